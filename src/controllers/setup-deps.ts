import type { V1Namespace, V1Secret } from "@kubernetes/client-node";
import type { AlphaSender, BirdNumber, BirdSender, BirdWorkspace, PhoneNumber } from "../api/v1alpha1/index.js";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import type { RecordStore } from "../ownership/records.js";
import type { PurchaseGrace } from "../ownership/purchase-grace.js";
import type { UsageBook } from "../ownership/usage.js";
import type { ControllerOptions, ReconcileFn } from "../runtime/controller.js";
import type { EventRecorder } from "../runtime/events.js";
import type { Informer } from "../runtime/informer.js";
import type { Metrics } from "../runtime/metrics.js";
import type { OwnWrites } from "../runtime/own-writes.js";
import type { ResourceClient } from "../runtime/resource-client.js";
import type { Admission } from "./admission.js";
import type { WorkspaceConnections } from "../workspace/connections.js";

export interface Clients {
  workspace: ResourceClient<BirdWorkspace>;
  phoneNumber: ResourceClient<PhoneNumber>;
  alphaSender: ResourceClient<AlphaSender>;
  birdNumber: ResourceClient<BirdNumber>;
  birdSender: ResourceClient<BirdSender>;
  secret: ResourceClient<V1Secret>;
}

export interface Informers {
  workspaces: Informer<BirdWorkspace>;
  secrets: Informer<V1Secret>;
  namespaces: Informer<V1Namespace>;
  phoneNumbers: Informer<PhoneNumber>;
  alphaSenders: Informer<AlphaSender>;
  birdNumbers: Informer<BirdNumber>;
  birdSenders: Informer<BirdSender>;
}

/** What operator.ts builds once and every controller's setup function shares. */
export interface SetupDeps {
  config: Readonly<Config>;
  logger: Logger;
  metrics: Metrics;
  ownWrites: OwnWrites;
  clients: Clients;
  informers: Informers;
  events: EventRecorder;
  connections: WorkspaceConnections;
  admission: Admission;
  numberRecords: RecordStore<BirdNumber>;
  senderRecords: RecordStore<BirdSender>;
  usage: UsageBook;
  /** When an unresolved purchase counts as never having reached Bird (told when this process starts leading). */
  purchaseGrace: PurchaseGrace;
  /** False while another replica may still act (see Manager.mayAct). */
  mayAct: () => boolean;
  now: () => Date;
}

/** The options every controller takes from the configuration, with its name and reconcile function. */
export function controllerOptions(deps: SetupDeps, name: string, reconcile: ReconcileFn): ControllerOptions {
  const { logger, metrics, config } = deps;
  return { logger, metrics, workers: config.workers, resyncMs: config.resyncMs, name, reconcile };
}

/** What the PhoneNumber and AlphaSender reconcilers share. */
export function managedDeps({ connections, events, admission, config, metrics, mayAct }: SetupDeps): ManagedDeps {
  return { connections, events, admission, resyncMs: config.resyncMs, metrics, mayAct };
}

export type ManagedDeps = Pick<SetupDeps, "connections" | "events" | "admission" | "metrics" | "mayAct"> & {
  resyncMs: number;
};
