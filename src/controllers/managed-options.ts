import type { KubernetesObject } from "@kubernetes/client-node";
import type { EventRecorder } from "../runtime/events.js";
import type { Informer } from "../runtime/informer.js";
import type { Metrics } from "../runtime/metrics.js";
import type { ResourceClient } from "../runtime/resource-client.js";
import type { WorkspaceConnections } from "../workspace/connections.js";
import type { Admission } from "./admission.js";

/** What every reconciler of a Bird-holding kind is given. */
export interface ManagedReconcilerOptions<T extends KubernetesObject> {
  client: ResourceClient<T>;
  informer: Informer<T>;
  connections: WorkspaceConnections;
  events: EventRecorder;
  admission: Admission;
  resyncMs: number;
  /** Counts purchases, cancellations and refusals (bird_operator_*_total). */
  metrics?: Metrics;
  /** False while another replica may still act (Manager.mayAct): asked right before each Bird write leaves. */
  mayAct?: () => boolean;
  now?: () => Date;
}
