import type { KubernetesObject } from "@kubernetes/client-node";
import { EventReason, FINALIZER, Reason, READY, SYNCED } from "../api/v1alpha1/conditions.js";
import type { Condition } from "../api/v1alpha1/index.js";
import type { Logger } from "../log.js";
import { FORGET, type ReconcileResult } from "./controller.js";
import { apiStatusCode, classifyError, errorMessage, errorReason, PermanentError, Waiting } from "./errors.js";
import type { EventRecorder, EventSubject } from "./events.js";
import { hasFinalizer, removeFinalizer } from "./finalizer.js";
import type { Informer } from "./informer.js";
import type { JsonPatchOp, ResourceClient } from "./resource-client.js";
import { cloneJson, rfc3339, sameJson, setCondition, statusChanged, type ConditionUpdate } from "./status.js";

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

/** A cleanup says explicitly that it is done; only then does the finalizer go, whatever else happened. */
export interface CleanupOutcome<T> extends StepOutcome<T> {
  done: boolean;
}

export interface StepDeps<T extends KubernetesObject> {
  client: ResourceClient<T>;
  events: EventRecorder;
  log: Logger;
  now: () => Date;
}

/**
 * Runs one reconcile step on a copy of the object's status, then writes status once with Ready and Synced set from
 * the outcome. A failure becomes Synced=False with the error's reason and message (Ready stays True through a
 * transient Bird error: the number still works, but never while the object is being deleted), a Warning event, and
 * is rethrown for the controller to classify; `Waiting` is reported the same way but polls instead of failing. A
 * write conflict is neither: the controller requeues it quietly and the next reconcile starts from fresh state.
 */
export async function runStep<
  T extends EventSubject & KubernetesObject & { status?: S },
  S extends ReconciledStatus,
  O extends StepOutcome<T>,
>(deps: StepDeps<T>, object: T, step: (status: S) => Promise<O>): Promise<O> {
  const status = cloneJson(object.status ?? {}) as S;
  try {
    const outcome = await step(status);
    setConditions(
      object,
      status,
      outcome.ready,
      { type: SYNCED, status: "True", reason: Reason.ReconcileSuccess, message: "" },
      deps.now(),
    );
    if (!outcome.deferStatusWrite) await writeStatus(deps, outcome.object ?? object, status);
    return outcome;
  } catch (error) {
    if (classifyError(error) === "conflict") throw error;
    const reason = errorReason(error, Reason.ReconcileError);
    const message = errorMessage(error);
    setConditions(
      object,
      status,
      failedReadiness(object, status, error, reason, message),
      { type: SYNCED, status: "False", reason, message },
      deps.now(),
    );
    await writeStatus(deps, object, status).catch((statusError: unknown) =>
      deps.log.debug({ err: errorMessage(statusError) }, "Status write failed"),
    );
    if (error instanceof Waiting) throw error;
    deps.events.record(object, "Warning", eventReasonFor(reason), message);
    throw error;
  }
}

/** Ready after a failure: kept True through a transient error of a working resource, never while deleting. */
function failedReadiness(
  object: KubernetesObject,
  status: ReconciledStatus,
  error: unknown,
  reason: string,
  message: string,
): ConditionUpdate {
  if (object.metadata?.deletionTimestamp) return notReady(Reason.Deleting, `deleting: ${message}`);
  const current = status.conditions?.find((c) => c.type === READY);
  const keepReady = current?.status === "True" && !(error instanceof PermanentError) && !(error instanceof Waiting);
  return keepReady
    ? { type: READY, status: "True", reason: current.reason, message: current.message }
    : notReady(reason, message);
}

function setConditions(
  object: KubernetesObject,
  status: ReconciledStatus,
  ready: ConditionUpdate,
  synced: ConditionUpdate,
  now: Date,
): void {
  const generation = object.metadata?.generation;
  status.conditions = setCondition(setCondition(status.conditions, ready, generation, now), synced, generation, now);
  status.observedGeneration = generation;
}

/**
 * Writes status only when something other than lastSyncTime changed: an idle reconcile costs no API write. The write
 * is a JSON Patch that tests the object's uid first, so a status decided for an object that was deleted and re-created
 * under the same name meanwhile (a tenant can) never lands on the new one: no borrowed Ready, boundTo or number. A
 * status the API server refuses (422: something Bird said does not fit the schema) is replaced by the conditions alone
 * with Synced=False saying why, so the object never shows a stale Ready=True while its status cannot be written.
 */
export async function writeStatus<T extends KubernetesObject & { status?: S }, S extends ReconciledStatus>(
  deps: StepDeps<T>,
  object: T,
  next: S,
): Promise<void> {
  if (!statusChanged(object.status, next)) return;
  const now = deps.now();
  next.lastSyncTime = rfc3339(now);
  const { namespace, name = "" } = object.metadata ?? {};
  const write = (from: object | undefined, to: object): Promise<T> =>
    deps.client.patchStatusOps(namespace, name, statusOps(object.metadata?.uid, from, to));
  try {
    await write(object.status, next);
    return;
  } catch (failed) {
    // Gone meanwhile: there is no status to write.
    if (apiStatusCode(failed) === 404) return;
    if (apiStatusCode(failed) !== 422) throw failed;
  }
  // The uid test failed (the object was replaced, or is gone) or the API server refused the status. Which one, the
  // object as it is now tells; the patch is made again against its status once (the cache's may have been behind).
  const fresh = await deps.client.get(namespace, name).catch((error: unknown) => {
    if (apiStatusCode(error) === 404) return undefined;
    throw error;
  });
  if (!fresh || fresh.metadata?.uid !== object.metadata?.uid) return;
  try {
    await write(fresh.status, next);
  } catch (refused) {
    if (apiStatusCode(refused) !== 422) throw refused;
    const message =
      "the API server refused the status Bird's answer produced, so only the conditions are written: " +
      `${errorMessage(refused).slice(0, 600)}`;
    await write(undefined, conditionsOnly(object, next, message, now));
    deps.events.record(object as unknown as EventSubject, "Warning", EventReason.ReconcileError, message);
  }
}

/** What is written when the API server refuses a status: Ready and Synced False, StatusRejected, saying why. */
function conditionsOnly(
  object: KubernetesObject,
  next: ReconciledStatus,
  message: string,
  now: Date,
): ReconciledStatus {
  const minimal: ReconciledStatus = { observedGeneration: next.observedGeneration, lastSyncTime: next.lastSyncTime };
  const generation = object.metadata?.generation;
  minimal.conditions = setCondition(
    setCondition(next.conditions, notReady(Reason.StatusRejected, message), generation, now),
    { type: SYNCED, status: "False", reason: Reason.StatusRejected, message },
    generation,
    now,
  );
  return minimal;
}

/**
 * The JSON Patch from status `from` to `to`: a test of the uid, then each top-level field that changed, whole (null
 * removes it: the CRDs' status fields are not nullable, so the API server prunes a null). Without `from`, the whole
 * status at once (there is none to keep, or none is to be kept).
 */
function statusOps(uid: string | undefined, from: object | undefined, to: object): JsonPatchOp[] {
  const ops: JsonPatchOp[] = uid ? [{ op: "test", path: "/metadata/uid", value: uid }] : [];
  if (!from) return [...ops, { op: "add", path: "/status", value: to }];
  const before = from as Record<string, unknown>;
  const after = to as Record<string, unknown>;
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (sameJson(before[key], after[key])) continue;
    ops.push({ op: "add", path: `/status/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`, value: after[key] ?? null });
  }
  return ops;
}

export interface ManagedSteps<T, S> {
  apply: (object: T, status: S) => Promise<StepOutcome<T>>;
  cleanup: (object: T, status: S) => Promise<CleanupOutcome<T>>;
}

/**
 * The reconcile shared by every kind that holds something in Bird: a live object is applied (the step adds the
 * finalizer itself, once it is allowed to act); an object being deleted with our finalizer is cleaned up, and the
 * finalizer goes only when cleanup returned `done`. A thrown error, a `Waiting`, a conflict: the finalizer stays.
 */
export async function reconcileManaged<
  T extends EventSubject & KubernetesObject & { status?: S },
  S extends ReconciledStatus,
>(deps: StepDeps<T> & { informer: Informer<T> }, key: string, steps: ManagedSteps<T, S>): Promise<ReconcileResult> {
  const object = deps.informer.get(key);
  if (!object) return FORGET;
  try {
    if (!object.metadata?.deletionTimestamp)
      return await runStep<T, S, StepOutcome<T>>(deps, object, (status) => steps.apply(object, status));
    if (!hasFinalizer(object, FINALIZER)) return FORGET;
    const outcome = await runStep<T, S, CleanupOutcome<T>>(deps, object, (status) => steps.cleanup(object, status));
    if (outcome.done) await removeFinalizer(deps.client, FINALIZER, outcome.object ?? object);
    return outcome;
  } catch (error) {
    if (error instanceof Waiting) return { requeueAfterMs: error.requeueAfterMs };
    throw error;
  }
}

/**
 * Whether the object may hold a claim that a lagging cache does not show: it carries the finalizer (which goes on
 * before any claim), or the operator has reported on it (status is the operator's alone: a tenant who removes the
 * finalizer from its own object cannot also clear its status). Only for an object with neither may the cache answer
 * alone (see RecordStore.findHeld).
 */
export function mayHaveClaimed(object: KubernetesObject & { status?: ReconciledStatus }): boolean {
  return (
    hasFinalizer(object, FINALIZER) ||
    object.status?.observedGeneration !== undefined ||
    (object.status?.conditions?.length ?? 0) > 0
  );
}

export function notReady(reason: string, message: string): ConditionUpdate {
  return { type: READY, status: "False", reason, message };
}

function eventReasonFor(reason: string): string {
  if (reason === Reason.CannotPurchase || reason === Reason.PriceAboveLimit || reason === Reason.NumberUnavailable)
    return EventReason.CannotPurchase;
  if (reason === Reason.PolicyViolation || reason === Reason.Forbidden || reason === Reason.QuotaExceeded)
    return EventReason.PolicyViolation;
  if (reason === Reason.NumberLost) return EventReason.NumberLost;
  if (reason === Reason.NumberConflict || reason === Reason.SenderConflict) return EventReason.ClaimRefused;
  if (reason === Reason.DestinationUnavailable) return EventReason.DestinationUnavailable;
  return EventReason.ReconcileError;
}
