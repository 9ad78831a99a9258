import { hostname } from "node:os";
import type { KubernetesObject } from "@kubernetes/client-node";
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
} from "./api/v1alpha1/index.js";
import { Annotation, FINALIZER } from "./api/v1alpha1/conditions.js";
import type { Config } from "./config.js";
import { Admission } from "./controllers/admission.js";
import { setupAlphaSenderController } from "./controllers/alpha-sender/setup.js";
import { setupPhoneNumberController } from "./controllers/phone-number/setup.js";
import { setupRecordControllers } from "./controllers/records/setup.js";
import type { Clients, Informers, SetupDeps } from "./controllers/setup-deps.js";
import { WorkspaceConnections } from "./workspace/connections.js";
import { setupWorkspaceController } from "./controllers/workspace/setup.js";
import type { Logger } from "./log.js";
import { exportWorkspaceUsage } from "./ownership/metrics.js";
import { RecordStore } from "./ownership/records.js";
import { PurchaseGrace } from "./ownership/purchase-grace.js";
import { UsageBook } from "./ownership/usage.js";
import { EventRecorder, type EventDropReason } from "./runtime/events.js";
import { InUseReporter } from "./runtime/in-use-reporter.js";
import { Informer, type InformerOptions } from "./runtime/informer.js";
import type { KubeSource } from "./runtime/kube-config.js";
import { KubeHttp } from "./runtime/kube-http.js";
import { Manager } from "./runtime/manager.js";
import type { Metrics } from "./runtime/metrics.js";
import { OwnWrites } from "./runtime/own-writes.js";
import { ResourceClient, type ResourceKind } from "./runtime/resource-client.js";
import { exportReadyGauges, exportResourceConditions } from "./runtime/resource-metrics.js";

export interface OperatorDeps {
  config: Readonly<Config>;
  /** From loadKubeConnection; tests may pass a client-node KubeConfig. */
  kubeConfig: KubeSource;
  logger: Logger;
  metrics: Metrics;
  /** Injected in tests to reach the simulator through a fault-injecting fetch; defaults to global fetch. */
  fetch?: typeof fetch;
}

const kind = (plural: string, kindName: string, namespaced: boolean): ResourceKind => ({
  group: GROUP,
  version: VERSION,
  plural,
  kind: kindName,
  namespaced,
});
const KINDS = {
  workspace: kind(BIRD_WORKSPACE_PLURAL, BIRD_WORKSPACE_KIND, false),
  phoneNumber: kind(PHONE_NUMBER_PLURAL, PHONE_NUMBER_KIND, true),
  alphaSender: kind(ALPHA_SENDER_PLURAL, ALPHA_SENDER_KIND, true),
  birdNumber: kind(BIRD_NUMBER_PLURAL, BIRD_NUMBER_KIND, false),
  birdSender: kind(BIRD_SENDER_PLURAL, BIRD_SENDER_KIND, false),
  secret: { group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true },
} satisfies Record<string, ResourceKind>;

/** kubectl's (and Argo CD's client-side apply's) copy of the applied manifest. */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
/**
 * A tenant's object with more finalizers than this is cached with a stand-in list (InformerOptions.capFinalizers):
 * real objects carry a few (the operator's, Argo CD's, foreground deletion), each name up to 317 bytes.
 */
const TENANT_FINALIZERS_CACHED = 16;

/** The longest the record controllers wait for their holders' initial pass before they start anyway. */
const RECORDS_WAIT_MAX_MS = 120_000;

/**
 * Wires the shared pieces (API server clients, informers, Bird connections, ownership records, the manager) and
 * calls each controller's setup function. Nothing starts until manager.start().
 */
export function createOperator(deps: OperatorDeps): Manager {
  const { config, kubeConfig, logger, metrics } = deps;
  const http = new KubeHttp(kubeConfig);
  const ownWrites = new OwnWrites();
  const clients = createClients(http, metrics, ownWrites);
  const informers = createInformers(deps, http, clients);
  const manager = createManager(deps);
  const shared = createSharedDeps(deps, http, { ownWrites, clients, informers, mayAct: () => manager.mayAct() });
  const records = setupRecordControllers(shared);
  const numbers = setupPhoneNumberController(shared);
  const senders = setupAlphaSenderController(shared);
  // After a restart the records' pass (holders gone, prices) waits for their holders' pass: users wait for the latter.
  records.numbers.startAfter(numbers, RECORDS_WAIT_MAX_MS);
  records.senders.startAfter(senders, RECORDS_WAIT_MAX_MS);
  const controllers = [setupWorkspaceController(shared), records.numbers, records.senders, numbers, senders];
  exportMetrics(shared, () => manager.isLeading());
  const { workspaces, secrets, namespaces, birdNumbers, birdSenders, phoneNumbers, alphaSenders } = informers;
  for (const informer of [workspaces, secrets, namespaces, birdNumbers, birdSenders, phoneNumbers, alphaSenders])
    manager.addInformer(informer);
  manager.addInformer(createInUseReporter(http, config, informers, logger));
  for (const controller of controllers) manager.addController(controller);
  manager.onStop(() => shared.events.flush());
  manager.onLeading(() => void shared.connections.warmUp().catch(() => undefined));
  manager.onLeading(() => shared.purchaseGrace.leading());
  return manager;
}

function createClients(http: KubeHttp, metrics: Metrics, ownWrites: OwnWrites): Clients {
  const countWrite = (kindName: string, verb: string): void => metrics.kubeWrites.inc({ kind: kindName, verb });
  const client = <T extends KubernetesObject>(k: ResourceKind): ResourceClient<T> =>
    new ResourceClient<T>(http, k, countWrite, ownWrites);
  return {
    workspace: client(KINDS.workspace),
    phoneNumber: client(KINDS.phoneNumber),
    alphaSender: client(KINDS.alphaSender),
    birdNumber: client(KINDS.birdNumber),
    birdSender: client(KINDS.birdSender),
    secret: client(KINDS.secret),
  };
}

function createInformers({ config, kubeConfig, logger }: OperatorDeps, http: KubeHttp, clients: Clients): Informers {
  const namespacedPaths = (plural: string): string[] => {
    const base = `/apis/${GROUP}/${VERSION}`;
    return config.namespaces.length
      ? config.namespaces.map((ns) => `${base}/namespaces/${ns}/${plural}`)
      : [`${base}/${plural}`];
  };
  const informer = <T extends KubernetesObject>(
    name: string,
    paths: string[],
    options: Pick<
      InformerOptions,
      "labelSelector" | "shareParts" | "dropAnnotations" | "keepAnnotations" | "keepLabels" | "capFinalizers"
    > = {},
  ): Informer<T> => new Informer<T>({ kubeConfig, http, paths, ...options, logger: logger.child({ informer: name }) });
  // The kinds a fleet has thousands of share their objects' common parts (a workspace reference, prices, conditions).
  const many = { shareParts: true };
  // Kinds the operator only patches keep no copy of their manifest (see InformerOptions.dropAnnotations).
  const patchedOnly = { dropAnnotations: [LAST_APPLIED] };
  // Kinds tenants write keep only the annotations the operator reads, and of a long finalizer list only its own (see
  // InformerOptions.keepAnnotations and capFinalizers).
  const tenants = {
    keepAnnotations: Object.values(Annotation),
    capFinalizers: { max: TENANT_FINALIZERS_CACHED, keep: [FINALIZER] },
  };
  return {
    workspaces: informer("birdworkspaces", [clients.workspace.collectionPath()], {
      labelSelector: config.workspaceSelector,
    }),
    secrets: informer("secrets", [`/api/v1/namespaces/${config.operatorNamespace}/secrets`], patchedOnly),
    // Admission reads a namespace's labels, nothing else: where teams create their own namespaces, their annotations
    // would be the operator's memory too.
    namespaces: informer("namespaces", ["/api/v1/namespaces"], {
      keepAnnotations: [],
      keepLabels: true,
      capFinalizers: { max: TENANT_FINALIZERS_CACHED, keep: [] },
    }),
    birdNumbers: informer("birdnumbers", [clients.birdNumber.collectionPath()], many),
    birdSenders: informer("birdsenders", [clients.birdSender.collectionPath()], many),
    phoneNumbers: informer("phonenumbers", namespacedPaths(PHONE_NUMBER_PLURAL), { ...many, ...tenants }),
    alphaSenders: informer("alphasenders", namespacedPaths(ALPHA_SENDER_PLURAL), { ...many, ...tenants }),
  };
}

function createManager({ config, kubeConfig, logger, metrics }: OperatorDeps): Manager {
  const election = config.leaderElection;
  return new Manager({
    kubeConfig,
    logger,
    metrics,
    metricsAddress: config.metricsAddress,
    healthAddress: config.healthAddress,
    shutdownDeadlineMs: config.shutdownDeadlineMs,
    leaderElection: election.enabled
      ? { ...election, namespace: election.leaseNamespace, name: election.leaseName }
      : undefined,
  });
}

type Wired = Pick<SetupDeps, "ownWrites" | "clients" | "informers" | "mayAct">;

/** What the controllers share beyond clients and informers: events, Bird connections, records, usage and admission. */
function createSharedDeps(
  { config, kubeConfig, logger, metrics, fetch }: OperatorDeps,
  http: KubeHttp,
  wired: Wired,
): SetupDeps {
  const { workspaces, secrets, namespaces, birdNumbers, birdSenders } = wired.informers;
  const onDrop = (why: EventDropReason): void => metrics.eventsDropped.inc({ why });
  const events = new EventRecorder({ kubeConfig, http, component: "bird-operator", host: hostname(), logger, onDrop });
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
  const numberRecords = new RecordStore(wired.clients.birdNumber, birdNumbers);
  const senderRecords = new RecordStore(wired.clients.birdSender, birdSenders);
  const usage = new UsageBook(numberRecords, senderRecords, workspaces);
  const { operatorNamespace, resyncMs } = config;
  const admission = new Admission({ connections, namespaces, operatorNamespace, resyncMs });
  return {
    ...wired,
    config,
    logger,
    metrics,
    events,
    connections,
    numberRecords,
    senderRecords,
    usage,
    admission,
    purchaseGrace: new PurchaseGrace(config.purchaseGraceMs, () => new Date()),
    now: () => new Date(),
  };
}

function exportMetrics(
  { metrics, informers, numberRecords, senderRecords, usage, connections }: SetupDeps,
  isLeader: () => boolean,
): void {
  const { phoneNumbers, alphaSenders, workspaces } = informers;
  const byKind = {
    [PHONE_NUMBER_KIND]: phoneNumbers,
    [ALPHA_SENDER_KIND]: alphaSenders,
    [BIRD_WORKSPACE_KIND]: workspaces,
  };
  exportReadyGauges(metrics, byKind);
  exportResourceConditions(metrics, byKind, isLeader);
  exportWorkspaceUsage(metrics, { workspaces, numberRecords, senderRecords, usage, connections, isLeader });
}

function createInUseReporter(
  http: KubeHttp,
  config: Readonly<Config>,
  informers: Informers,
  logger: Logger,
): InUseReporter {
  const kinds = {
    [BIRD_WORKSPACE_PLURAL]: informers.workspaces,
    [PHONE_NUMBER_PLURAL]: informers.phoneNumbers,
    [ALPHA_SENDER_PLURAL]: informers.alphaSenders,
    [BIRD_NUMBER_PLURAL]: informers.birdNumbers,
    [BIRD_SENDER_PLURAL]: informers.birdSenders,
  };
  return new InUseReporter({
    http,
    namespace: config.operatorNamespace,
    kinds,
    logger: logger.child({ reporter: "in-use" }),
  });
}
