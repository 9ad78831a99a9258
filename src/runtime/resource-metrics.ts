import type { KubernetesObject } from "@kubernetes/client-node";
import { Reason, READY, SYNCED } from "../api/v1alpha1/conditions.js";
import type { Metrics } from "./metrics.js";
import { findCondition, type Condition } from "./status.js";

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
