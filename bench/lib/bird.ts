import { startSimulator, type CallCount, type RunningSimulator } from "../../src/simulator/index.js";

/** Bird's documented per-workspace limits, which the simulator enforces. */
export const BIRD_GET_PER_SECOND = 50;
export const BIRD_POST_PER_SECOND = 500;
/** The simulator's bucket capacity equals the rate: a full second's worth may go at once. */
export const BIRD_GET_BURST = 50;
export const BIRD_POST_BURST = 500;
/** 50 ms +/- 20 ms: a uniform [30, 70) ms delay on every answer. */
export const LATENCY = { latencyMs: 30, jitterMs: 40 };
export const MEAN_LATENCY_MS = LATENCY.latencyMs + LATENCY.jitterMs / 2;
export const PROVISIONING_DELAY_MS = 200;

/** The simulator as every scenario uses it: rate limits on, 50 +/- 20 ms latency, the default provisioning delay. */
export function startBenchSimulator(): Promise<RunningSimulator> {
  return startSimulator({
    port: 0,
    rateLimits: { enabled: true },
    faults: { ...LATENCY },
    provisioningDelayMs: PROVISIONING_DELAY_MS,
    callLogSize: 20_000,
  });
}

export type CallSnapshot = Map<string, CallCount>;

export function snapshotCalls(bird: RunningSimulator): CallSnapshot {
  return new Map(bird.sim.calls().counts.map((c) => [`${c.method} ${c.route} ${c.status}`, c]));
}

export interface CallSummary {
  total: number;
  gets: number;
  posts: number;
  /** 429 answers: the operator's own rate limiter should make this 0. */
  tooManyRequests: number;
  /** `METHOD route` -> calls (every status). */
  byRoute: Record<string, number>;
  /** `METHOD route status` -> calls, for the non-2xx ones. */
  failures: Record<string, number>;
}

/** The calls made between two snapshots, as the simulator counted them (the server side is the truth). */
export function callsBetween(before: CallSnapshot, after: CallSnapshot): CallSummary {
  const summary: CallSummary = { total: 0, gets: 0, posts: 0, tooManyRequests: 0, byRoute: {}, failures: {} };
  for (const [key, c] of after) {
    const n = c.count - (before.get(key)?.count ?? 0);
    if (n === 0) continue;
    summary.total += n;
    if (c.method === "GET") summary.gets += n;
    else summary.posts += n;
    if (c.status === 429) summary.tooManyRequests += n;
    const route = `${c.method} ${shortRoute(c.route)}`;
    summary.byRoute[route] = (summary.byRoute[route] ?? 0) + n;
    if (c.status < 200 || c.status >= 300) summary.failures[`${route} ${c.status}`] = n;
  }
  summary.byRoute = Object.fromEntries(Object.entries(summary.byRoute).sort(([, a], [, b]) => b - a));
  return summary;
}

/**
 * `/workspaces/{workspaceId}/numbers-long-code/{longCodeNumberId}` -> `numbers-long-code/{id}`:
 * short enough for a table.
 */
export function shortRoute(route: string): string {
  return route
    .replace(/^\/(workspaces|organizations)\/\{[a-zA-Z]+\}\//, "")
    .replace(/\{[a-zA-Z]*Id\}/g, "{id}")
    .replace(/\{subscriptionName\}/, "{name}");
}

/** Whether a GET route serves numbers (long codes, stock, their `main` subscription) or senders. */
export function isSenderRoute(route: string): boolean {
  return route.includes("numbers-alpha") || /subscriptions$/.test(route);
}
