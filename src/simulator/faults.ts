import { ApiError } from "./errors.js";
import type { Operation } from "./openapi.js";
import { seededRandom, type Random } from "./random.js";
import type { FaultSettings, RateLimitSettings } from "./types.js";

export const DEFAULT_RATE_LIMITS: RateLimitSettings = {
  enabled: true,
  getPerSecond: 50,
  postPerSecond: 500,
  window: "bucket",
  sharedGetPerSecond: 0,
  sharedPostPerSecond: 0,
};

interface Bucket {
  tokens: number;
  last: number;
}

/**
 * Bird's documented limits: per workspace, one budget for reads and one for writes. How a second is counted is not
 * documented: by default a bucket holding a second's worth of requests and refilling continuously; in `sliding` mode
 * at most the rate in any sliding second. Another client's steady load (`shared...PerSecond`) takes its share first.
 */
export class RateLimiter {
  private current: RateLimitSettings;
  private readonly buckets = new Map<string, Bucket>();
  /** Sliding mode: when each request of the last second was let through, oldest first. */
  private readonly logs = new Map<string, number[]>();

  constructor(
    settings: Partial<RateLimitSettings> = {},
    private readonly clock: () => number = Date.now,
  ) {
    this.current = { ...DEFAULT_RATE_LIMITS, ...settings };
  }

  settings(): RateLimitSettings {
    return { ...this.current };
  }

  update(settings: Partial<RateLimitSettings>): RateLimitSettings {
    const next = { ...this.current, ...settings };
    for (const rate of [next.getPerSecond, next.postPerSecond]) {
      if (!Number.isFinite(rate) || rate <= 0)
        throw new ApiError(400, "invalid-request", "Rates must be positive numbers");
    }
    for (const shared of [next.sharedGetPerSecond, next.sharedPostPerSecond]) {
      if (!Number.isFinite(shared) || shared < 0)
        throw new ApiError(400, "invalid-request", "Shared loads must be non-negative numbers");
    }
    if (next.window !== "bucket" && next.window !== "sliding")
      throw new ApiError(400, "invalid-request", 'window must be "bucket" or "sliding"');
    this.current = next;
    this.buckets.clear();
    this.logs.clear();
    return this.settings();
  }

  /** Counts the request; false means it must be refused with 429 and not processed. */
  allow(workspaceId: string, method: string): boolean {
    if (!this.current.enabled) return true;
    const read = method === "GET";
    const { getPerSecond, postPerSecond, sharedGetPerSecond, sharedPostPerSecond } = this.current;
    const rate = read ? getPerSecond - sharedGetPerSecond : postPerSecond - sharedPostPerSecond;
    const key = `${workspaceId} ${read ? "GET" : "POST"}`;
    return this.current.window === "sliding" ? this.slide(key, rate) : this.take(key, rate);
  }

  private take(key: string, rate: number): boolean {
    const now = this.clock();
    const bucket = this.buckets.get(key) ?? { tokens: rate, last: now };
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.last) / 1000) * rate);
    bucket.last = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private slide(key: string, rate: number): boolean {
    const now = this.clock();
    const log = this.logs.get(key) ?? [];
    this.logs.set(key, log);
    while (log.length > 0 && (log[0] as number) <= now - 1000) log.shift();
    if (log.length + 1 > rate) return false;
    log.push(now);
    return true;
  }
}

function checkRate(name: string, value: number | undefined): void {
  if (value !== undefined && !(typeof value === "number" && value >= 0 && value <= 1)) {
    throw new ApiError(400, "invalid-request", `${name} must be a number between 0 and 1`, { field: name });
  }
}

function checkDuration(name: string, value: number | undefined): void {
  if (value !== undefined && !(typeof value === "number" && Number.isFinite(value) && value >= 0)) {
    throw new ApiError(400, "invalid-request", `${name} must be a non-negative number`, { field: name });
  }
}

export function checkFaultSettings(settings: FaultSettings): FaultSettings {
  if (settings === null || typeof settings !== "object" || Array.isArray(settings)) {
    throw new ApiError(400, "invalid-request", "Fault settings must be an object");
  }
  checkDuration("latencyMs", settings.latencyMs);
  checkDuration("jitterMs", settings.jitterMs);
  for (const name of ["errorRate", "resetRate", "malformedRate"] as const) checkRate(name, settings[name]);
  const count = settings.rateLimitBurst?.count;
  if (settings.rateLimitBurst !== undefined && !(Number.isInteger(count) && (count ?? -1) >= 0)) {
    throw new ApiError(400, "invalid-request", "rateLimitBurst.count must be a non-negative integer", {
      field: "rateLimitBurst",
    });
  }
  if (
    settings.routes !== undefined &&
    !(Array.isArray(settings.routes) && settings.routes.every((r) => typeof r === "string"))
  ) {
    throw new ApiError(400, "invalid-request", "routes must be a list of strings", { field: "routes" });
  }
  return settings;
}

/** Misbehaviour on demand, decided per request by seeded dice so a failing run can be replayed. */
export class FaultInjector {
  private current: FaultSettings = {};
  private random: Random = Math.random;

  constructor(settings: FaultSettings = {}) {
    this.update(settings);
  }

  settings(): FaultSettings {
    return structuredClone(this.current);
  }

  /** Replaces all settings: what is absent is off. */
  update(settings: FaultSettings): FaultSettings {
    this.current = structuredClone(checkFaultSettings(settings));
    this.random = settings.seed === undefined ? Math.random : seededRandom(settings.seed);
    return this.settings();
  }

  /** Whether faults apply: `routes` may name a path template, `METHOD template`, or an operationId. */
  appliesTo(operation: Operation | undefined): boolean {
    const routes = this.current.routes;
    if (!routes?.length) return true;
    if (!operation) return false;
    return routes.some(
      (r) =>
        r === operation.template || r === `${operation.method} ${operation.template}` || r === operation.operationId,
    );
  }

  delayMs(): number {
    const { latencyMs = 0, jitterMs = 0 } = this.current;
    return latencyMs + (jitterMs > 0 ? this.random() * jitterMs : 0);
  }

  takeRateLimitBurst(): boolean {
    const burst = this.current.rateLimitBurst;
    if (!burst || burst.count <= 0) return false;
    burst.count -= 1;
    return true;
  }

  serverError(): 500 | 503 | undefined {
    if (!this.roll(this.current.errorRate)) return undefined;
    return this.random() < 0.5 ? 500 : 503;
  }

  reset(): boolean {
    return this.roll(this.current.resetRate);
  }

  malformed(): boolean {
    return this.roll(this.current.malformedRate);
  }

  private roll(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && this.random() < rate;
  }
}
