import type { KubernetesObject } from "@kubernetes/client-node";
import { Reason, READY, SYNCED } from "../api/v1alpha1/conditions.js";
import type { Metrics } from "./metrics.js";
import { findCondition, isReady, type Condition } from "./status.js";

/** A cache of objects that carry conditions, e.g. an Informer. */
export interface ConditionSource {
  values: () => Iterable<KubernetesObject & { status?: { conditions?: Condition[] } }>;
}

const CONDITIONS = [READY, SYNCED];
const STATUSES = new Set(["True", "False", "Unknown"]);
const REASONS = new Set<string>(Object.values(Reason));

/**
 * Two views of the Ready and Synced conditions of the objects of each kind in `sources`, read from the informer caches
 * at each scrape (a deleted resource's series are gone at the next one):
 * - `bird_operator_resources{kind,condition,status,reason}`: how many resources show each condition status and reason.
 * - `bird_operator_resource_condition{kind,namespace,name,condition,status,reason}` = 1, for each resource whose
 *   Ready or Synced is not True (both of its conditions), so that an alert can name it. A healthy resource has no
 *   series of its own: with 100,000 numbers, two series each would be 200,000 series per scrape for nothing an alert
 *   reads, so the cardinality follows the number of resources in trouble, not the size of the fleet.
 * Labels come only from the object's identity and from fixed sets (a reason this version does not know, or a status
 * not True/False, is exported as Other/Unknown).
 *
 * Only the leader exports them. The standby's caches hold the same objects, so both replicas would export identical
 * series and every `count` or `sum` over them would double; a `leader` label would double the series instead and
 * make every query filter on it. A failover moves the series to the new leader within a lease duration; alerts
 * aggregate away the instance so their `for` clock keeps running.
 */
export function exportResourceConditions(
  metrics: Metrics,
  sources: Record<string, ConditionSource>,
  isLeader: () => boolean,
): void {
  metrics.setView("resources", () => {
    metrics.resourceCondition.reset();
    metrics.resources.reset();
    if (!isLeader()) return;
    for (const [kind, source] of Object.entries(sources)) exportKind(metrics, kind, source.values());
  });
}

type Labels = { condition: string; status: string; reason: string };

/**
 * Counts without allocating per object (a scrape walks every cached object: 100,000 numbers at each scrape): counts by
 * condition and status, then by reason; only a resource in trouble gets label objects, for its own series.
 */
function exportKind(metrics: Metrics, kind: string, objects: ReturnType<ConditionSource["values"]>): void {
  const counts = new Map<string, Map<string, number>>();
  const count = (condition: string, status: string, reason: string): void => {
    const key = `${condition}/${status}`;
    let byReason = counts.get(key);
    if (!byReason) counts.set(key, (byReason = new Map<string, number>()));
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  };
  for (const object of objects) {
    const conditions = object.status?.conditions;
    let healthy = true;
    for (const type of CONDITIONS) {
      const condition = findCondition(conditions, type);
      if (!condition) continue;
      if (condition.status !== "True") healthy = false;
      count(type, statusLabel(condition), reasonLabel(condition));
    }
    if (healthy) continue;
    const { namespace = "", name = "" } = object.metadata ?? {};
    for (const l of conditionLabels(conditions)) metrics.resourceCondition.set({ kind, namespace, name, ...l }, 1);
  }
  for (const [key, byReason] of counts) {
    const [condition = "", status = ""] = key.split("/");
    for (const [reason, n] of byReason) metrics.resources.set({ kind, condition, status, reason }, n);
  }
}

function conditionLabels(conditions: Condition[] | undefined): Labels[] {
  const labels: Labels[] = [];
  for (const type of CONDITIONS) {
    const condition = findCondition(conditions, type);
    if (condition) labels.push({ condition: type, status: statusLabel(condition), reason: reasonLabel(condition) });
  }
  return labels;
}

/** A status not True/False is exported as Unknown, a reason this version does not know as Other: fixed label sets. */
function statusLabel(condition: Condition): string {
  return STATUSES.has(condition.status) ? condition.status : "Unknown";
}

function reasonLabel(condition: Condition): string {
  return REASONS.has(condition.reason) ? condition.reason : "Other";
}

/** A cache that also tells when it changes, e.g. an Informer. */
export interface WatchedSource {
  values: ConditionSource["values"];
  on: (handler: () => void) => void;
}

/**
 * `bird_operator_managed_resources` (by kind and readiness) for the objects of each kind in `sources`, recounted at
 * most once a second after a change: counting 10,000 objects per event would not scale.
 */
export function exportReadyGauges(metrics: Metrics, sources: Record<string, WatchedSource>): void {
  const update = throttle(1000, () => {
    for (const [kind, source] of Object.entries(sources)) updateReadyGauge(metrics, kind, source.values());
  });
  for (const source of Object.values(sources)) source.on(update);
}

/** Runs `fn` at most once per interval, after the first call of a burst. */
function throttle(intervalMs: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  return () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      fn();
    }, intervalMs).unref();
  };
}

function updateReadyGauge(metrics: Metrics, kind: string, objects: Iterable<Parameters<typeof isReady>[0]>): void {
  let ready = 0;
  let all = 0;
  for (const object of objects) {
    all++;
    if (isReady(object)) ready++;
  }
  metrics.managedResources.set({ kind, ready: "true" }, ready);
  metrics.managedResources.set({ kind, ready: "false" }, all - ready);
}
