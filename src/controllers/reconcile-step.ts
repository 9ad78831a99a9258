import type { KubernetesObject } from "@kubernetes/client-node";
import { EventReason, FINALIZER, Reason, READY, SYNCED } from "../api/v1alpha1/conditions.js";
import type { Condition } from "../api/v1alpha1/index.js";
import type { Logger } from "../log.js";
import { FORGET, type ReconcileResult } from "../runtime/controller.js";
import { errorMessage, errorReason, PermanentError, Waiting } from "../runtime/errors.js";
import type { EventRecorder, EventSubject } from "../runtime/events.js";
import { createMergePatch } from "../runtime/merge-patch.js";
import type { ResourceClient } from "../runtime/resource-client.js";
import { withFinalizer } from "../runtime/finalizer.js";
import type { Informer } from "../runtime/informer.js";
import type { Money } from "../bird/types.js";
import type { WorkspaceConnections } from "./workspace/connections.js";
import { rfc3339, setCondition, statusChanged, type ConditionUpdate } from "../runtime/status.js";

export interface ReconciledStatus {
  conditions?: Condition[];
  observedGeneration?: number;
  lastSyncTime?: string;
}

export interface StepOutcome<T> {
  ready: ConditionUpdate;
  requeueAfterMs?: number;
  /** Skip this status write: the object comes back within `requeueAfterMs` and writes then what it finds. */
  deferStatusWrite?: boolean;
  /** The object as the step left it (after metadata updates), for the status write. */
  object?: T;
}

/**
 * Runs one reconcile step on a copy of the object's status, then writes status once with Ready and Synced set from
 * the outcome. A failure becomes Synced=False with the error's reason and message (Ready stays True through a
 * transient Bird error: the number still works), a Warning event, and is rethrown for the controller to classify;
 * `Waiting` is reported the same way but polls instead of failing.
 */
export interface StepDeps<T extends KubernetesObject> {
  client: ResourceClient<T>;
  events: EventRecorder;
  log: Logger;
  now: () => Date;
}

export async function runStep<T extends EventSubject & KubernetesObject & { status?: S }, S extends ReconciledStatus>(
  deps: StepDeps<T>,
  object: T,
  step: (status: S) => Promise<StepOutcome<T>>,
): Promise<ReconcileResult> {
  const status = structuredClone(object.status ?? {}) as S;
  try {
    const outcome = await step(status);
    setConditions(object, status, outcome.ready, { type: SYNCED, status: "True", reason: Reason.ReconcileSuccess, message: "" }, deps.now());
    if (!outcome.deferStatusWrite) await writeStatus(deps.client, outcome.object ?? object, status, deps.now());
    return { requeueAfterMs: outcome.requeueAfterMs };
  } catch (error) {
    const reason = errorReason(error, Reason.ReconcileError);
    const message = errorMessage(error);
    const current = status.conditions?.find((c) => c.type === READY);
    const keepReady = current?.status === "True" && !(error instanceof PermanentError) && !(error instanceof Waiting);
    const ready: ConditionUpdate = keepReady ? { type: READY, status: "True", reason: current.reason, message: current.message } : { type: READY, status: "False", reason, message };
    setConditions(object, status, ready, { type: SYNCED, status: "False", reason, message }, deps.now());
    await writeStatus(deps.client, object, status, deps.now()).catch((statusError: unknown) => deps.log.debug({ err: errorMessage(statusError) }, "Status write failed"));
    if (error instanceof Waiting) return { requeueAfterMs: error.requeueAfterMs };
    deps.events.record(object, "Warning", eventReasonFor(reason), message);
    throw error;
  }
}

function setConditions(object: KubernetesObject, status: ReconciledStatus, ready: ConditionUpdate, synced: ConditionUpdate, now: Date): void {
  const generation = object.metadata?.generation;
  status.conditions = setCondition(setCondition(status.conditions, ready, generation, now), synced, generation, now);
  status.observedGeneration = generation;
}

/** Writes status only when something other than lastSyncTime changed: an idle reconcile costs no API write. */
export async function writeStatus<T extends KubernetesObject & { status?: S }, S extends ReconciledStatus>(client: ResourceClient<T>, object: T, next: S, now: Date): Promise<void> {
  if (!statusChanged(object.status, next)) return;
  next.lastSyncTime = rfc3339(now);
  await client.patchStatus(object.metadata?.namespace, object.metadata?.name ?? "", createMergePatch(object.status ?? {}, next));
}

/** What every reconciler of a Bird-holding kind is given. */
export interface ManagedReconcilerOptions<T extends KubernetesObject> {
  client: ResourceClient<T>;
  informer: Informer<T>;
  connections: WorkspaceConnections;
  events: EventRecorder;
  operatorNamespace: string;
  namespaceLabels: (namespace: string) => Promise<Record<string, string> | undefined>;
  /** Monthly prices already committed in a workspace (numbers and sender countries), for the spend policy. */
  committedSpend: (workspaceName: string) => Money[];
  resyncMs: number;
  now?: () => Date;
}

export interface ManagedSteps<T, S> {
  /** ObserveOnly: report, never write to Bird. */
  observe: (object: T, status: S) => Promise<StepOutcome<T>>;
  apply: (object: T, status: S) => Promise<StepOutcome<T>>;
  cleanup: (object: T, status: S) => Promise<StepOutcome<T>>;
  /** `apply` adds the finalizer itself, before its first Bird write (see withFinalizer's `handlerAdds`). */
  applyAddsFinalizer?: boolean;
}

/**
 * The reconcile shared by every kind that holds something in Bird: ObserveOnly objects without a finalizer are only
 * observed; everything else goes through the finalizer, so cleanup runs before the object may disappear.
 */
export async function reconcileManaged<T extends EventSubject & KubernetesObject & { spec: { managementPolicy?: string }; status?: S }, S extends ReconciledStatus>(
  deps: StepDeps<T> & { informer: Informer<T> },
  key: string,
  steps: ManagedSteps<T, S>,
): Promise<ReconcileResult> {
  const object = deps.informer.get(key);
  if (!object) return FORGET;
  if (object.spec.managementPolicy === "ObserveOnly" && !object.metadata?.finalizers?.includes(FINALIZER)) {
    return object.metadata?.deletionTimestamp ? FORGET : runStep<T, S>(deps, object, (status) => steps.observe(object, status));
  }
  // Undefined: deleted without our finalizer, so the object is on its way out and there is nothing to do.
  const result = await withFinalizer(deps.client, FINALIZER, object, (event) =>
    runStep<T, S>(deps, event.object, (status) => (event.type === "cleanup" ? steps.cleanup(event.object, status) : steps.apply(event.object, status))),
    { handlerAdds: steps.applyAddsFinalizer },
  );
  return result ?? FORGET;
}

export function notReady(reason: string, message: string): ConditionUpdate {
  return { type: READY, status: "False", reason, message };
}

function eventReasonFor(reason: string): string {
  if (reason === Reason.CannotPurchase || reason === Reason.PriceAboveLimit || reason === Reason.NumberUnavailable) return EventReason.CannotPurchase;
  if (reason === Reason.PolicyViolation || reason === Reason.Forbidden || reason === Reason.QuotaExceeded) return EventReason.PolicyViolation;
  if (reason === Reason.NumberLost) return EventReason.NumberLost;
  if (reason === Reason.DestinationUnavailable) return EventReason.DestinationUnavailable;
  return EventReason.ReconcileError;
}
