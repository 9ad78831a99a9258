import { readFileSync } from "node:fs";
import { diffGroups, groupBy, sumOf, type Sample } from "./prom.js";
import { round } from "./util.js";

/** The operator's own view of a phase: where its time went (queues, rate limiter) and what it wrote. */
export interface OperatorDeltas {
  /** `Kind verb` -> writes (bird_operator_kube_writes_total). */
  kubeWrites: Record<string, number>;
  /** `controller result` -> reconciles. */
  reconciles: Record<string, number>;
  /** Seconds spent in reconciles per controller (sum over workers). */
  reconcileSeconds: Record<string, number>;
  workqueueRetries: Record<string, number>;
  /** Mean and total time a Bird request waited for the operator's own token bucket, per method. */
  rateLimiterWait: Record<string, { requests: number; totalSeconds: number; meanMs: number }>;
  /** Bird requests by `METHOD code` as the operator counted them (attempts, retries included). */
  birdRequests: Record<string, number>;
}

export function operatorDeltas(before: readonly Sample[], after: readonly Sample[]): OperatorDeltas {
  const d = (name: string, keys: string[]): Record<string, number> =>
    diffGroups(groupBy(before, name, keys), groupBy(after, name, keys));
  const rateLimiterWait: OperatorDeltas["rateLimiterWait"] = {};
  for (const method of ["GET", "POST"]) {
    const requests =
      sumOf(after, "bird_rate_limiter_wait_seconds_count", { method }) -
      sumOf(before, "bird_rate_limiter_wait_seconds_count", { method });
    const totalSeconds =
      sumOf(after, "bird_rate_limiter_wait_seconds_sum", { method }) -
      sumOf(before, "bird_rate_limiter_wait_seconds_sum", { method });
    if (requests > 0)
      rateLimiterWait[method] = {
        requests,
        totalSeconds: round(totalSeconds),
        meanMs: round((totalSeconds / requests) * 1000),
      };
  }
  const reconcileSeconds = Object.fromEntries(
    Object.entries(d("controller_runtime_reconcile_time_seconds_sum", ["controller"])).map(([k, v]) => [k, round(v)]),
  );
  return {
    kubeWrites: d("bird_operator_kube_writes_total", ["kind", "verb"]),
    reconciles: d("controller_runtime_reconcile_total", ["controller", "result"]),
    reconcileSeconds,
    workqueueRetries: d("workqueue_retries_total", ["name"]),
    rateLimiterWait,
    birdRequests: d("bird_api_requests_total", ["method", "code"]),
  };
}

/**
 * `bird_operator_initial_reconcile_seconds{controller}`: seconds from the operator process's start until every object
 * its controller found at start was reconciled once. Undefined until then.
 */
export function initialReconcileSeconds(samples: readonly Sample[], controller: string): number | undefined {
  return samples.find((s) => s.name === "bird_operator_initial_reconcile_seconds" && s.labels.controller === controller)
    ?.value;
}

/**
 * The same figure from the operator's log ("Reconciled every object present at start", milliseconds rounded), read
 * from `offset` of its log file: a bench that waits for it reads a file instead of asking the operator for /metrics
 * four times a second, whose per-object views (100,000 numbers each) would cost the operator what it measures.
 */
export function initialReconcileSecondsFromLog(
  logFile: string,
  offset: number,
  controller: string,
): number | undefined {
  let text: string;
  try {
    text = readFileSync(logFile).subarray(offset).toString("utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    if (!line.includes("Reconciled every object present at start")) continue;
    const entry = JSON.parse(line) as { controller?: string; seconds?: number };
    if (entry.controller === controller && typeof entry.seconds === "number") return entry.seconds;
  }
  return undefined;
}

export function total(record: Record<string, number>): number {
  return Object.values(record).reduce((a, b) => a + b, 0);
}

/** Events the API server saw created and patched (only the operator writes Events in a bench namespace). */
export function eventWrites(apiserverDelta: Record<string, number>): { creates: number; patches: number } {
  return { creates: apiserverDelta["events POST"] ?? 0, patches: apiserverDelta["events PATCH"] ?? 0 };
}
