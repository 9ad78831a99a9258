import type { KubernetesObject } from "@kubernetes/client-node";
import { Reason, READY, SYNCED } from "../api/v1alpha1/conditions.js";
import type { Metrics } from "./metrics.js";
import { findCondition, isReady, type Condition } from "./status.js";

/** A cache of objects that carry conditions, e.g. an Informer. */
export interface ConditionSource {
  list: () => (KubernetesObject & { status?: { conditions?: Condition[] } })[];
}

const CONDITIONS = [READY, SYNCED];
const STATUSES = new Set(["True", "False", "Unknown"]);
const REASONS = new Set<string>(Object.values(Reason));

/**
 * `bird_operator_resource_condition` for the objects of each kind in `sources`: one series per resource and condition
 * type (Ready, Synced) with its status and reason, value 1, read from the informer caches at each scrape, so a deleted
 * resource's series are gone at the next scrape. Cardinality is two series per resource: labels come only from the
 * object's identity and from fixed sets (a reason this version does not know, or a status not True/False, is exported
 * as Other/Unknown).
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
    const gauge = metrics.resourceCondition;
    gauge.reset();
    if (!isLeader()) return;
    for (const [kind, source] of Object.entries(sources)) {
      for (const object of source.list()) {
        const { namespace = "", name = "" } = object.metadata ?? {};
        for (const type of CONDITIONS) {
          const condition = findCondition(object.status?.conditions, type);
          if (!condition) continue;
          const status = STATUSES.has(condition.status) ? condition.status : "Unknown";
          const reason = REASONS.has(condition.reason) ? condition.reason : "Other";
          gauge.set({ kind, namespace, name, condition: type, status, reason }, 1);
        }
      }
    }
  });
}

/** A cache that also tells when it changes, e.g. an Informer. */
export interface WatchedSource {
  list: ConditionSource["list"];
  on: (handler: () => void) => void;
}

/**
 * `bird_operator_managed_resources` (by kind and readiness) for the objects of each kind in `sources`, recounted at
 * most once a second after a change: counting 10,000 objects per event would not scale.
 */
export function exportReadyGauges(metrics: Metrics, sources: Record<string, WatchedSource>): void {
  const update = throttle(1000, () => {
    for (const [kind, source] of Object.entries(sources)) updateReadyGauge(metrics, kind, source.list());
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

function updateReadyGauge(metrics: Metrics, kind: string, objects: Parameters<typeof isReady>[0][]): void {
  const ready = objects.filter((o) => isReady(o)).length;
  metrics.managedResources.set({ kind, ready: "true" }, ready);
  metrics.managedResources.set({ kind, ready: "false" }, objects.length - ready);
}
