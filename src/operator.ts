import { hostname } from "node:os";
import type { V1Secret } from "@kubernetes/client-node";
import {
  ALPHA_SENDER_KIND,
  ALPHA_SENDER_PLURAL,
  BIRD_WORKSPACE_KIND,
  BIRD_WORKSPACE_PLURAL,
  GROUP,
  PHONE_NUMBER_KIND,
  PHONE_NUMBER_PLURAL,
  VERSION,
  type AlphaSender,
  type BirdWorkspace,
  type PhoneNumber,
} from "./api/v1alpha1/index.js";
import type { Money } from "./bird/types.js";
import type { Config } from "./config.js";
import { AlphaSenderReconciler } from "./controllers/alpha-sender/reconciler.js";
import { PhoneNumberReconciler } from "./controllers/phone-number/reconciler.js";
import { WorkspaceConnections } from "./controllers/workspace/connections.js";
import { WorkspaceReconciler } from "./controllers/workspace/reconciler.js";
import type { Logger } from "./log.js";
import { Controller } from "./runtime/controller.js";
import { EventRecorder } from "./runtime/events.js";
import { InUseReporter } from "./runtime/in-use-reporter.js";
import { Informer, objectKey } from "./runtime/informer.js";
import type { KubeSource } from "./runtime/kube-config.js";
import { KubeHttp } from "./runtime/kube-http.js";
import { Manager } from "./runtime/manager.js";
import type { Metrics } from "./runtime/metrics.js";
import { OwnWrites } from "./runtime/own-writes.js";
import { ResourceClient, type ResourceKind } from "./runtime/resource-client.js";
import { isReady } from "./runtime/status.js";

export interface OperatorDeps {
  config: Readonly<Config>;
  /** From loadKubeConnection; tests may pass a client-node KubeConfig. */
  kubeConfig: KubeSource;
  logger: Logger;
  metrics: Metrics;
  /** Injected in tests to reach the simulator through a fault-injecting fetch; defaults to global fetch. */
  fetch?: typeof fetch;
}

const KINDS = {
  workspace: { group: GROUP, version: VERSION, plural: BIRD_WORKSPACE_PLURAL, kind: BIRD_WORKSPACE_KIND, namespaced: false },
  phoneNumber: { group: GROUP, version: VERSION, plural: PHONE_NUMBER_PLURAL, kind: PHONE_NUMBER_KIND, namespaced: true },
  alphaSender: { group: GROUP, version: VERSION, plural: ALPHA_SENDER_PLURAL, kind: ALPHA_SENDER_KIND, namespaced: true },
} satisfies Record<string, ResourceKind>;

/** Wires informers, clients, reconcilers and controllers into a Manager. Nothing starts until manager.start(). */
export function createOperator({ config, kubeConfig, logger, metrics, fetch }: OperatorDeps): Manager {
  const http = new KubeHttp(kubeConfig);
  const countWrite = (kind: string, verb: string): void => metrics.kubeWrites.inc({ kind, verb });
  const ownWrites = new OwnWrites();
  const clients = {
    workspace: new ResourceClient<BirdWorkspace>(http, KINDS.workspace, countWrite, ownWrites),
    phoneNumber: new ResourceClient<PhoneNumber>(http, KINDS.phoneNumber, countWrite, ownWrites),
    alphaSender: new ResourceClient<AlphaSender>(http, KINDS.alphaSender, countWrite, ownWrites),
  };
  const namespacedPaths = (plural: string): string[] => {
    const base = `/apis/${GROUP}/${VERSION}`;
    return config.namespaces.length ? config.namespaces.map((ns) => `${base}/namespaces/${ns}/${plural}`) : [`${base}/${plural}`];
  };
  const workspaces = new Informer<BirdWorkspace>({ kubeConfig, http, paths: [clients.workspace.collectionPath()], labelSelector: config.workspaceSelector, logger: logger.child({ informer: "birdworkspaces" }) });
  const secrets = new Informer<V1Secret>({ kubeConfig, http, paths: [`/api/v1/namespaces/${config.operatorNamespace}/secrets`], logger: logger.child({ informer: "secrets" }) });
  const phoneNumbers = new Informer<PhoneNumber>({ kubeConfig, http, paths: namespacedPaths(PHONE_NUMBER_PLURAL), logger: logger.child({ informer: "phonenumbers" }) });
  const alphaSenders = new Informer<AlphaSender>({ kubeConfig, http, paths: namespacedPaths(ALPHA_SENDER_PLURAL), logger: logger.child({ informer: "alphasenders" }) });

  const events = new EventRecorder({ kubeConfig, http, component: "bird-operator", host: hostname(), logger });
  const connections = new WorkspaceConnections({
    workspaces,
    secrets,
    operatorNamespace: config.operatorNamespace,
    logger,
    metrics,
    inventoryMaxAgeMs: config.resyncMs * 0.9,
    birdTimeoutMs: config.birdTimeoutMs,
    fetch,
  });
  const committedSpend = (workspaceName: string): Money[] => [
    ...phoneNumbers.list().flatMap((pn) => (pn.spec.workspaceRef.name === workspaceName && pn.status?.monthlyPrice && pn.status.numberId ? [pn.status.monthlyPrice] : [])),
    ...alphaSenders
      .list()
      .filter((as) => as.spec.workspaceRef.name === workspaceName)
      .flatMap((as) => (as.status?.countries ?? []).flatMap((c) => (c.subscription?.status === "active" && c.subscription.price ? [c.subscription.price] : []))),
    ...phoneNumberReconciler.pendingSpend(workspaceName),
    ...alphaSenderReconciler.pendingSpend(workspaceName),
  ];
  const namespaceLabels = async (namespace: string): Promise<Record<string, string> | undefined> =>
    (await http.request<{ metadata?: { labels?: Record<string, string> } }>({ method: "GET", path: `/api/v1/namespaces/${namespace}` })).metadata?.labels ?? {};

  const workspaceReconciler = new WorkspaceReconciler({
    client: clients.workspace,
    informer: workspaces,
    phoneNumbers,
    alphaSenders,
    connections,
    events,
    committedSpend,
    resyncMs: config.resyncMs,
  });
  const phoneNumberReconciler = new PhoneNumberReconciler({
    client: clients.phoneNumber,
    informer: phoneNumbers,
    connections,
    events,
    operatorNamespace: config.operatorNamespace,
    namespaceLabels,
    committedSpend,
    resyncMs: config.resyncMs,
    purchaseGraceMs: config.purchaseGraceMs,
    wake: (key) => phoneNumberController.queue.add(key),
    mayAct: () => manager.mayAct(),
  });
  const alphaSenderReconciler = new AlphaSenderReconciler({
    client: clients.alphaSender,
    informer: alphaSenders,
    connections,
    events,
    operatorNamespace: config.operatorNamespace,
    namespaceLabels,
    committedSpend,
    resyncMs: config.resyncMs,
  });

  const common = { logger, metrics, workers: config.workers, resyncMs: config.resyncMs };
  const workspaceController = new Controller({ ...common, name: "birdworkspace", reconcile: workspaceReconciler.reconcile })
    .watchPrimary(workspaces, ownWrites)
    .watchRelated(secrets, (secret) => workspaces.list().filter((ws) => referencesSecret(ws, secret)).map((ws) => ws.metadata?.name ?? ""))
    .watchRelated(phoneNumbers, (pn) => [pn.spec.workspaceRef.name], 2000)
    .watchRelated(alphaSenders, (as) => [as.spec.workspaceRef.name], 2000);
  const phoneNumberController = new Controller({ ...common, name: "phonenumber", reconcile: phoneNumberReconciler.reconcile })
    // Not for PhoneNumbers: after an API server restart their own writes' events are what brings a reconcile back
    // soon when the cache was behind (without, the chaos restart scenario converged in 15 to 30 s instead of 3).
    .watchPrimary(phoneNumbers)
    .watchRelated(workspaces, (ws, old) => (workspaceChangedForDependents(ws, old) ? phoneNumbers.list().filter((pn) => pn.spec.workspaceRef.name === ws.metadata?.name).map((pn) => objectKey(pn)) : []));
  // The last watch wakes the other AlphaSenders naming the same sender, so a conflict's loser takes over as soon as the owner goes.
  const alphaSenderController = new Controller({ ...common, name: "alphasender", reconcile: alphaSenderReconciler.reconcile })
    .watchPrimary(alphaSenders, ownWrites)
    .watchRelated(workspaces, (ws, old) => (workspaceChangedForDependents(ws, old) ? alphaSenders.list().filter((as) => as.spec.workspaceRef.name === ws.metadata?.name).map((as) => objectKey(as)) : []))
    .watchRelated(alphaSenders, (changed, _old, type) => (type === "delete" ? alphaSenders.list().filter((as) => sameSenderClaim(as, changed)).map((as) => objectKey(as)) : []), 1000);

  const gauges = throttle(1000, () => {
    updateReadyGauge(metrics, PHONE_NUMBER_KIND, phoneNumbers.list());
    updateReadyGauge(metrics, ALPHA_SENDER_KIND, alphaSenders.list());
    updateReadyGauge(metrics, BIRD_WORKSPACE_KIND, workspaces.list());
  });
  phoneNumbers.on(gauges);
  alphaSenders.on(gauges);
  workspaces.on(gauges);

  const manager = new Manager({
    kubeConfig,
    logger,
    metrics,
    metricsAddress: config.metricsAddress,
    healthAddress: config.healthAddress,
    shutdownDeadlineMs: config.shutdownDeadlineMs,
    leaderElection: config.leaderElection.enabled ? { ...config.leaderElection, namespace: config.leaderElection.leaseNamespace, name: config.leaderElection.leaseName } : undefined,
  });
  for (const i of [workspaces, secrets, phoneNumbers, alphaSenders]) manager.addInformer(i);
  const inUse = { [BIRD_WORKSPACE_PLURAL]: workspaces, [PHONE_NUMBER_PLURAL]: phoneNumbers, [ALPHA_SENDER_PLURAL]: alphaSenders };
  manager.addInformer(new InUseReporter({ http, namespace: config.operatorNamespace, kinds: inUse, logger: logger.child({ reporter: "in-use" }) }));
  manager.addController(workspaceController);
  manager.addController(phoneNumberController);
  manager.addController(alphaSenderController);
  manager.onStop(() => events.flush());
  return manager;
}

/**
 * Numbers and senders care about a workspace's spec, readiness and existence, not its counts: a status update that
 * only recounts (every few seconds while provisioning) must not wake every resource of the workspace.
 */
function workspaceChangedForDependents(current: BirdWorkspace, old: BirdWorkspace | undefined): boolean {
  if (!old) return true;
  const ready = (ws: BirdWorkspace): string | undefined => {
    const c = ws.status?.conditions?.find((x) => x.type === "Ready");
    return c ? `${c.status}/${c.reason}` : undefined;
  };
  return old.metadata?.generation !== current.metadata?.generation || ready(old) !== ready(current) || old.metadata?.deletionTimestamp !== current.metadata?.deletionTimestamp;
}

function referencesSecret(workspace: BirdWorkspace, secret: V1Secret): boolean {
  const ref = workspace.spec.accessKeySecretRef;
  return ref.namespace === secret.metadata?.namespace && ref.name === secret.metadata?.name;
}

/** Another AlphaSender of the same workspace naming the same sender the same way (the cheap, common case of a conflict). */
function sameSenderClaim(as: AlphaSender, changed: AlphaSender): boolean {
  if (objectKey(as) === objectKey(changed) || as.spec.workspaceRef.name !== changed.spec.workspaceRef.name) return false;
  return (as.spec.alphaString !== undefined && as.spec.alphaString === changed.spec.alphaString) || (as.spec.alphaNumberId !== undefined && as.spec.alphaNumberId === changed.spec.alphaNumberId);
}

/** Runs `fn` at most once per interval, after the first call of a burst (counting 10,000 objects per event would not scale). */
function throttle(intervalMs: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  return () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      fn();
    }, intervalMs).unref();
  };
}

function updateReadyGauge(metrics: Metrics, kind: string, objects: Parameters<typeof isReady>[0][]): void {
  const ready = objects.filter((o) => isReady(o)).length;
  metrics.managedResources.set({ kind, ready: "true" }, ready);
  metrics.managedResources.set({ kind, ready: "false" }, objects.length - ready);
}
