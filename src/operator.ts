import { hostname } from "node:os";
import type { KubernetesObject, V1Namespace, V1Secret } from "@kubernetes/client-node";
import {
  ALPHA_SENDER_KIND,
  ALPHA_SENDER_PLURAL,
  BIRD_NUMBER_KIND,
  BIRD_NUMBER_PLURAL,
  BIRD_SENDER_KIND,
  BIRD_SENDER_PLURAL,
  BIRD_WORKSPACE_KIND,
  BIRD_WORKSPACE_PLURAL,
  GROUP,
  PHONE_NUMBER_KIND,
  PHONE_NUMBER_PLURAL,
  VERSION,
  type AlphaSender,
  type BirdNumber,
  type BirdSender,
  type BirdWorkspace,
  type PhoneNumber,
} from "./api/v1alpha1/index.js";
import type { Config } from "./config.js";
import { Admission } from "./controllers/admission.js";
import { SenderClaims } from "./controllers/alpha-sender/claim.js";
import { AlphaSenderReconciler } from "./controllers/alpha-sender/reconciler.js";
import { NumberClaims } from "./controllers/phone-number/claim.js";
import { LegacyClaims } from "./controllers/phone-number/legacy.js";
import { Purchaser } from "./controllers/phone-number/purchase.js";
import { PhoneNumberReconciler } from "./controllers/phone-number/reconciler.js";
import { RecordReconciler } from "./controllers/records/reconciler.js";
import { WorkspaceConnections } from "./controllers/workspace/connections.js";
import { WorkspaceReconciler } from "./controllers/workspace/reconciler.js";
import type { Logger } from "./log.js";
import { RecordStore, type OwnershipRecord } from "./ownership/records.js";
import { exportWorkspaceUsage } from "./ownership/metrics.js";
import { UsageBook } from "./ownership/usage.js";
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
import { exportResourceConditions } from "./runtime/resource-metrics.js";
import { isReady } from "./runtime/status.js";
import { Waiters } from "./runtime/waiters.js";

export interface OperatorDeps {
  config: Readonly<Config>;
  /** From loadKubeConnection; tests may pass a client-node KubeConfig. */
  kubeConfig: KubeSource;
  logger: Logger;
  metrics: Metrics;
  /** Injected in tests to reach the simulator through a fault-injecting fetch; defaults to global fetch. */
  fetch?: typeof fetch;
}

const kind = (plural: string, kindName: string, namespaced: boolean): ResourceKind => ({ group: GROUP, version: VERSION, plural, kind: kindName, namespaced });
const KINDS = {
  workspace: kind(BIRD_WORKSPACE_PLURAL, BIRD_WORKSPACE_KIND, false),
  phoneNumber: kind(PHONE_NUMBER_PLURAL, PHONE_NUMBER_KIND, true),
  alphaSender: kind(ALPHA_SENDER_PLURAL, ALPHA_SENDER_KIND, true),
  birdNumber: kind(BIRD_NUMBER_PLURAL, BIRD_NUMBER_KIND, false),
  birdSender: kind(BIRD_SENDER_PLURAL, BIRD_SENDER_KIND, false),
  secret: { group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true },
} satisfies Record<string, ResourceKind>;

/** Wires informers, clients, reconcilers and controllers into a Manager. Nothing starts until manager.start(). */
export function createOperator({ config, kubeConfig, logger, metrics, fetch }: OperatorDeps): Manager {
  const http = new KubeHttp(kubeConfig);
  const countWrite = (kindName: string, verb: string): void => metrics.kubeWrites.inc({ kind: kindName, verb });
  const ownWrites = new OwnWrites();
  const client = <T extends KubernetesObject>(k: ResourceKind): ResourceClient<T> => new ResourceClient<T>(http, k, countWrite, ownWrites);
  const clients = {
    workspace: client<BirdWorkspace>(KINDS.workspace),
    phoneNumber: client<PhoneNumber>(KINDS.phoneNumber),
    alphaSender: client<AlphaSender>(KINDS.alphaSender),
    birdNumber: client<BirdNumber>(KINDS.birdNumber),
    birdSender: client<BirdSender>(KINDS.birdSender),
    secret: client<V1Secret>(KINDS.secret),
  };
  const namespacedPaths = (plural: string): string[] => {
    const base = `/apis/${GROUP}/${VERSION}`;
    return config.namespaces.length ? config.namespaces.map((ns) => `${base}/namespaces/${ns}/${plural}`) : [`${base}/${plural}`];
  };
  const informer = <T extends KubernetesObject>(name: string, paths: string[], labelSelector?: string): Informer<T> =>
    new Informer<T>({ kubeConfig, http, paths, labelSelector, logger: logger.child({ informer: name }) });
  const workspaces = informer<BirdWorkspace>("birdworkspaces", [clients.workspace.collectionPath()], config.workspaceSelector);
  const secrets = informer<V1Secret>("secrets", [`/api/v1/namespaces/${config.operatorNamespace}/secrets`]);
  const namespaces = informer<V1Namespace>("namespaces", ["/api/v1/namespaces"]);
  const phoneNumbers = informer<PhoneNumber>("phonenumbers", namespacedPaths(PHONE_NUMBER_PLURAL));
  const alphaSenders = informer<AlphaSender>("alphasenders", namespacedPaths(ALPHA_SENDER_PLURAL));
  const birdNumbers = informer<BirdNumber>("birdnumbers", [clients.birdNumber.collectionPath()]);
  const birdSenders = informer<BirdSender>("birdsenders", [clients.birdSender.collectionPath()]);

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
  const numberRecords = new RecordStore(clients.birdNumber, birdNumbers);
  const senderRecords = new RecordStore(clients.birdSender, birdSenders);
  const usage = new UsageBook(numberRecords, senderRecords);
  const admission = new Admission({ connections, namespaces, operatorNamespace: config.operatorNamespace, resyncMs: config.resyncMs });
  const now = (): Date => new Date();
  const managed = { connections, events, admission, resyncMs: config.resyncMs, metrics };

  const purchaser = new Purchaser({ records: numberRecords, usage, events, metrics, resyncMs: config.resyncMs, mayAct: () => manager.mayAct(), now });
  const numberWaiters = new Waiters((key) => phoneNumberController.queue.add(key));
  const numberClaims = new NumberClaims({
    records: numberRecords,
    purchaser,
    legacy: new LegacyClaims(phoneNumbers),
    client: clients.phoneNumber,
    events,
    waiters: numberWaiters,
    purchaseGraceMs: config.purchaseGraceMs,
    now,
  });
  const phoneNumberReconciler = new PhoneNumberReconciler({
    ...managed,
    client: clients.phoneNumber,
    informer: phoneNumbers,
    records: numberRecords,
    claims: numberClaims,
    purchaseGraceMs: config.purchaseGraceMs,
    wake: (key) => phoneNumberController.queue.add(key),
  });
  const senderWaiters = new Waiters((key) => alphaSenderController.queue.add(key));
  const alphaSenderReconciler = new AlphaSenderReconciler({
    ...managed,
    client: clients.alphaSender,
    informer: alphaSenders,
    records: senderRecords,
    claims: new SenderClaims({ records: senderRecords, informer: alphaSenders, admission, events, waiters: senderWaiters, now }),
    usage,
  });
  const workspaceReconciler = new WorkspaceReconciler({
    client: clients.workspace,
    informer: workspaces,
    phoneNumbers,
    alphaSenders,
    numberRecords,
    senderRecords,
    usage,
    secrets,
    secretClient: clients.secret,
    connections,
    events,
    resyncMs: config.resyncMs,
  });
  const records = { connections, events, namespaces: config.namespaces, purchaseGraceMs: config.purchaseGraceMs, resyncMs: config.resyncMs };
  const numberRecordReconciler = new RecordReconciler({ ...records, records: numberRecords, holders: phoneNumbers, holderClient: clients.phoneNumber });
  const senderRecordReconciler = new RecordReconciler({ ...records, records: senderRecords, holders: alphaSenders, holderClient: clients.alphaSender });

  const common = { logger, metrics, workers: config.workers, resyncMs: config.resyncMs };
  const inNamespace = <T extends PhoneNumber | AlphaSender>(objects: Informer<T>, namespace: V1Namespace, old: V1Namespace | undefined): string[] =>
    JSON.stringify(old?.metadata?.labels ?? {}) === JSON.stringify(namespace.metadata?.labels ?? {}) && old
      ? []
      : objects.list().filter((o) => o.metadata?.namespace === namespace.metadata?.name).map((o) => objectKey(o));
  const ofWorkspace = <T extends PhoneNumber | AlphaSender>(objects: Informer<T>, ws: BirdWorkspace, old: BirdWorkspace | undefined): string[] =>
    workspaceChangedForDependents(ws, old) ? objects.list().filter((o) => o.spec.workspaceRef.name === ws.metadata?.name).map((o) => objectKey(o)) : [];
  const holderOf = (record: OwnershipRecord): string[] => (record.spec.claimRef?.name ? [`${record.spec.claimRef.namespace}/${record.spec.claimRef.name}`] : []);

  const workspaceController = new Controller({ ...common, name: "birdworkspace", reconcile: workspaceReconciler.reconcile })
    .watchPrimary(workspaces, ownWrites)
    .watchRelated(secrets, (secret) => workspaces.list().filter((ws) => referencesSecret(ws, secret)).map((ws) => ws.metadata?.name ?? ""))
    .watchRelated(phoneNumbers, (pn) => [pn.spec.workspaceRef.name], 2000)
    .watchRelated(alphaSenders, (as) => [as.spec.workspaceRef.name], 2000)
    .watchRelated(birdNumbers, (record) => [record.spec.workspaceRef.name], 2000)
    .watchRelated(birdSenders, (record) => [record.spec.workspaceRef.name], 2000)
    // A new or deleted workspace can make another one a duplicate, or stop it being one.
    .watchRelated(workspaces, (ws, old, type) => (type === "update" && old ? [] : workspaces.list().map((w) => w.metadata?.name ?? "")));
  const phoneNumberController = new Controller({ ...common, name: "phonenumber", reconcile: phoneNumberReconciler.reconcile })
    // Not for PhoneNumbers: after an API server restart their own writes' events are what brings a reconcile back
    // soon when the cache was behind (without, the chaos restart scenario converged in 15 to 30 s instead of 3).
    .watchPrimary(phoneNumbers, ownWrites, { wakeOnOwnWrites: true })
    .watchRelated(workspaces, (ws, old) => ofWorkspace(phoneNumbers, ws, old))
    .watchRelated(namespaces, (ns, old) => inNamespace(phoneNumbers, ns, old))
    .watchRelated(birdNumbers, (record) => {
      numberWaiters.notify(record.metadata?.name ?? "");
      return holderOf(record);
    });
  const alphaSenderController = new Controller({ ...common, name: "alphasender", reconcile: alphaSenderReconciler.reconcile })
    .watchPrimary(alphaSenders, ownWrites)
    .watchRelated(workspaces, (ws, old) => ofWorkspace(alphaSenders, ws, old))
    .watchRelated(namespaces, (ns, old) => inNamespace(alphaSenders, ns, old))
    .watchRelated(birdSenders, (record) => {
      senderWaiters.notify(record.metadata?.name ?? "");
      return holderOf(record);
    });
  // A holder deleted without cleanup (finalizer removed by hand) wakes its record at once.
  const heldBy = (store: RecordStore<OwnershipRecord>) => (holder: PhoneNumber | AlphaSender, _old: unknown, type: string): string[] => {
    const record = type === "delete" ? store.heldBy(holder) : undefined;
    return record ? [record.metadata?.name ?? ""] : [];
  };
  const numberRecordController = new Controller({ ...common, name: "birdnumber", reconcile: numberRecordReconciler.reconcile })
    .watchPrimary(birdNumbers, ownWrites)
    .watchRelated(phoneNumbers, heldBy(numberRecords as RecordStore<OwnershipRecord>), 1000);
  const senderRecordController = new Controller({ ...common, name: "birdsender", reconcile: senderRecordReconciler.reconcile })
    .watchPrimary(birdSenders, ownWrites)
    .watchRelated(alphaSenders, heldBy(senderRecords as RecordStore<OwnershipRecord>), 1000);

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
  const isLeader = (): boolean => manager.isLeading();
  exportResourceConditions(metrics, { [PHONE_NUMBER_KIND]: phoneNumbers, [ALPHA_SENDER_KIND]: alphaSenders, [BIRD_WORKSPACE_KIND]: workspaces }, isLeader);
  exportWorkspaceUsage(metrics, { workspaces, numberRecords, senderRecords, usage, connections, isLeader });
  for (const i of [workspaces, secrets, namespaces, birdNumbers, birdSenders, phoneNumbers, alphaSenders]) manager.addInformer(i);
  const inUse = {
    [BIRD_WORKSPACE_PLURAL]: workspaces,
    [PHONE_NUMBER_PLURAL]: phoneNumbers,
    [ALPHA_SENDER_PLURAL]: alphaSenders,
    [BIRD_NUMBER_PLURAL]: birdNumbers,
    [BIRD_SENDER_PLURAL]: birdSenders,
  };
  manager.addInformer(new InUseReporter({ http, namespace: config.operatorNamespace, kinds: inUse, logger: logger.child({ reporter: "in-use" }) }));
  for (const c of [workspaceController, numberRecordController, senderRecordController, phoneNumberController, alphaSenderController]) manager.addController(c);
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

function updateReadyGauge(metrics: Metrics, kindName: string, objects: Parameters<typeof isReady>[0][]): void {
  const ready = objects.filter((o) => isReady(o)).length;
  metrics.managedResources.set({ kind: kindName, ready: "true" }, ready);
  metrics.managedResources.set({ kind: kindName, ready: "false" }, objects.length - ready);
}
