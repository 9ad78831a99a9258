/** Bird's documented per-workspace limits (docs "Rate Limit" page). */
export const DEFAULT_GET_PER_SECOND = 50;
export const DEFAULT_POST_PER_SECOND = 500;
/**
 * The span in which at most a second's worth of requests may leave: Bird's second plus a tenth, because requests
 * reach Bird later than they leave here by a varying delay, and Bird may count any sliding second (undocumented).
 */
export const DEFAULT_WINDOW_MS = 1100;
/**
 * GETs leave evenly spaced by default. A burst reaches Bird's count spread over however long Bird takes to take it in,
 * so its last requests can share a sliding second with requests sent a window later; evenly spaced ones cannot
 * (against a simulator counting each sliding second, a burst of 10 drew 429s where a burst of 1 drew none).
 */
export const DEFAULT_GET_BURST = 1;

export interface RateLimits {
  getPerSecond?: number;
  postPerSecond?: number;
  /** Bucket capacity for GETs; default DEFAULT_GET_BURST. */
  getBurst?: number;
  /** Bucket capacity for POSTs; default ceil(rate / 5). */
  postBurst?: number;
  /** At most a second's worth of requests in any span this long; default DEFAULT_WINDOW_MS. */
  windowMs?: number;
}

export interface TokenBucketOptions {
  ratePerSecond: number;
  capacity?: number;
  /** Besides the bucket: at most `count` requests in any `ms` milliseconds. */
  window?: { count: number; ms: number };
  /** Milliseconds from a monotonic source; injectable so tests drive time. */
  now?: () => number;
}

interface Waiter {
  resolve: (waitedMs: number) => void;
  since: number;
}

/**
 * At most `count` admissions in any `ms` milliseconds, kept as a ring of the last `count` admission times: the next
 * may go once the oldest of them is `ms` old. Memory is `count` numbers, whatever the traffic.
 */
export class SlidingWindow {
  private times: number[] = [];
  /** Once the ring is full, where its oldest time is (and the next one goes). */
  private oldest = 0;

  private count: number;

  constructor(
    count: number,
    private span: number,
  ) {
    SlidingWindow.check(count, span);
    this.count = Math.floor(count);
  }

  get ms(): number {
    return this.span;
  }

  private static check(count: number, ms: number): void {
    if (!(count >= 1) || !Number.isFinite(count) || !(ms > 0) || !Number.isFinite(ms)) {
      throw new RangeError(`A window needs a count of at least 1 and a positive span, got ${count} in ${ms} ms`);
    }
  }

  /** Milliseconds until one more may go (0: now). */
  delayMs(now: number): number {
    if (this.times.length < this.count) return 0;
    return Math.max(0, (this.times[this.oldest] as number) + this.span - now);
  }

  record(now: number): void {
    if (this.times.length < this.count) {
      this.times.push(now);
      return;
    }
    this.times[this.oldest] = now;
    this.oldest = (this.oldest + 1) % this.count;
  }

  /** Admissions within the last `ms`: what is being sent, as a rate when divided by the span. */
  admittedSince(now: number): number {
    return this.times.filter((t) => t > now - this.span).length;
  }

  /** A new count and span, keeping the most recent admission times. */
  resize(count: number, ms: number): void {
    SlidingWindow.check(count, ms);
    const ordered = [...this.times.slice(this.oldest), ...this.times.slice(0, this.oldest)];
    this.times = ordered.slice(-Math.floor(count));
    this.oldest = 0;
    this.count = Math.floor(count);
    this.span = ms;
  }
}

/** `background`: work off the path to Ready (subscription dates), served only from tokens nobody else waits for. */
export type Priority = "normal" | "background";

/**
 * A token bucket whose waiters are served in arrival order by one timer. The small default burst (a fifth of a
 * second's worth) is the point: requests leave at a steady pace, so jitter between here and Bird never makes
 * Bird's own bucket overflow, and the operator never earns a 429 by itself. A bucket alone lets a second carry its
 * rate plus its burst; the optional sliding window holds any span of `window.ms` to `window.count` requests.
 *
 * Background waiters form a second queue: served only while no normal waiter waits, and only once the bucket holds
 * half its capacity, so a normal request arriving in a stream of background ones still finds tokens at once.
 */
export class TokenBucket {
  private rate = 0;
  private size = 0;
  private readonly now: () => number;
  private tokens = Infinity;
  private refilledAt: number;
  private readonly queue: Waiter[] = [];
  private readonly background: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  readonly window: SlidingWindow | undefined;

  constructor(options: TokenBucketOptions) {
    this.now = options.now ?? ((): number => performance.now());
    this.window = options.window && new SlidingWindow(options.window.count, options.window.ms);
    this.configure(options.ratePerSecond, options.capacity);
    this.refilledAt = this.now();
  }

  get ratePerSecond(): number {
    return this.rate;
  }

  get capacity(): number {
    return this.size;
  }

  /** Changes rate and capacity in place, so callers already waiting keep their place in the queue. */
  configure(ratePerSecond: number, capacity?: number): void {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
      throw new RangeError(`Rate must be a positive number, got ${ratePerSecond}`);
    }
    if (this.rate > 0) {
      this.refill();
    }
    this.rate = ratePerSecond;
    this.size = Math.max(1, capacity ?? Math.ceil(ratePerSecond / 5));
    this.tokens = Math.min(this.tokens, this.size);
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.schedule();
    }
  }

  /** Resolves with the milliseconds waited once a token is taken. */
  acquire(priority: Priority = "normal"): Promise<number> {
    this.refill();
    const queue = priority === "background" ? this.background : this.queue;
    if (this.queue.length === 0 && queue.length === 0 && this.mayGo(priority)) {
      this.take();
      return Promise.resolve(0);
    }
    return new Promise((resolve) => {
      queue.push({ resolve, since: this.now() });
      this.schedule();
    });
  }

  get pending(): number {
    return this.queue.length + this.background.length;
  }

  /** Tokens the bucket must hold before a waiter of this priority takes one. */
  private threshold(priority: Priority): number {
    return priority === "background" ? Math.max(1, this.size / 2) : 1;
  }

  private mayGo(priority: Priority): boolean {
    return this.tokens >= this.threshold(priority) && (this.window?.delayMs(this.now()) ?? 0) === 0;
  }

  private take(): void {
    this.tokens -= 1;
    this.window?.record(this.now());
  }

  private refill(): void {
    const now = this.now();
    const earned = ((now - this.refilledAt) * this.rate) / 1000;
    // Rounding residue must not strand a waiter a hair short of a whole token.
    this.tokens = Math.min(this.size, this.tokens + earned + 1e-9);
    this.refilledAt = now;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.pending === 0) {
      return;
    }
    const needed = this.threshold(this.queue.length > 0 ? "normal" : "background");
    const tokenDelayMs = Math.ceil(((needed - this.tokens) * 1000) / this.rate);
    const delayMs = Math.max(0, tokenDelayMs, Math.ceil(this.window?.delayMs(this.now()) ?? 0));
    this.timer = setTimeout(() => this.release(), delayMs);
  }

  private release(): void {
    this.timer = undefined;
    this.refill();
    const now = this.now();
    while (this.queue.length > 0 && this.mayGo("normal")) {
      const waiter = this.queue.shift();
      this.take();
      waiter?.resolve(now - waiter.since);
    }
    while (this.queue.length === 0 && this.background.length > 0 && this.mayGo("background")) {
      const waiter = this.background.shift();
      this.take();
      waiter?.resolve(now - waiter.since);
    }
    this.schedule();
  }
}

/**
 * The rate to hold to after Bird answered 429, as the AWS SDKs' adaptive retry mode computes it (botocore's
 * CubicCalculator): a throttle cuts the rate to 0.7 times what was being sent; then the rate grows back along a cubic
 * curve that returns to that rate after K seconds, probes beyond it slowly, and is done once it reaches the ceiling.
 * One cut per window: the 429s that follow at once answer requests that left before the cut.
 */
export class CubicRate {
  private static readonly SCALE = 0.4;
  private static readonly BETA = 0.7;
  /** botocore's floor: a throttled client still sends now and then, to learn when it may speed up. */
  private static readonly MIN_PER_SECOND = 0.5;
  private current: number | undefined;
  private wMax = 0;
  private k = 0;
  private cutAt = Number.NEGATIVE_INFINITY;

  constructor(
    private ceiling: number,
    private readonly windowMs: () => number,
    private readonly now: () => number,
  ) {}

  /** Requests per second to send at now: the ceiling unless a 429 came recently. */
  get rate(): number {
    return this.current ?? this.ceiling;
  }

  setCeiling(ceiling: number): void {
    this.ceiling = ceiling;
    if (this.current !== undefined && this.current >= ceiling) this.current = undefined;
  }

  /** A 429 answered a request sent while `sendingPerSecond` requests a second were leaving. */
  throttled(sendingPerSecond: number): void {
    const now = this.now();
    if (now - this.cutAt < this.windowMs()) return;
    const sending = sendingPerSecond > 0 ? sendingPerSecond : this.rate;
    this.wMax = Math.min(sending, this.rate);
    this.k = Math.cbrt((this.wMax * (1 - CubicRate.BETA)) / CubicRate.SCALE);
    this.cutAt = now;
    this.current = Math.max(CubicRate.MIN_PER_SECOND, this.wMax * CubicRate.BETA);
  }

  /** Any other answer: a cut rate grows back along the curve. */
  answered(): void {
    if (this.current === undefined) return;
    const seconds = (this.now() - this.cutAt) / 1000;
    const next = CubicRate.SCALE * (seconds - this.k) ** 3 + this.wMax;
    this.current = next >= this.ceiling ? undefined : Math.max(CubicRate.MIN_PER_SECOND, next);
  }
}

/** What one HTTP method family of a workspace is held to: its bucket and window, and the rate Bird lets it keep. */
class MethodLimiter {
  readonly bucket: TokenBucket;
  private readonly adaptive: CubicRate;
  private burst: number | undefined;

  constructor(perSecond: number, burst: number | undefined, windowMs: number, now: () => number) {
    this.burst = burst;
    this.bucket = new TokenBucket({
      ratePerSecond: perSecond,
      capacity: burst,
      window: { count: Math.max(1, perSecond), ms: windowMs },
      now,
    });
    this.adaptive = new CubicRate(perSecond, () => this.window.ms, now);
  }

  private get window(): SlidingWindow {
    return this.bucket.window as SlidingWindow;
  }

  configure(perSecond: number, burst: number | undefined, windowMs: number): void {
    this.burst = burst;
    this.window.resize(Math.max(1, perSecond), windowMs);
    this.adaptive.setCeiling(perSecond);
    this.bucket.configure(this.adaptive.rate, burst);
  }

  /** The new rate when the answer changed it, else undefined. */
  answered(throttled: boolean, now: number): number | undefined {
    const before = this.adaptive.rate;
    if (throttled) this.adaptive.throttled((this.window.admittedSince(now) * 1000) / this.window.ms);
    else this.adaptive.answered();
    const after = this.adaptive.rate;
    if (after === before) return undefined;
    this.bucket.configure(after, this.burst);
    return after;
  }
}

/** One bucket per HTTP method family, for one workspace. */
export interface WorkspaceRateLimiter {
  readonly get: TokenBucket;
  readonly post: TokenBucket;
  /** GET takes from the GET bucket; everything else counts as a write. Resolves with the milliseconds waited. */
  acquire(method: string, priority?: Priority): Promise<number>;
  /**
   * Bird answered a request: a 429 cuts its method family's rate, other answers let a cut rate recover (CubicRate).
   * Returns the new rate when it changed.
   */
  answered(method: string, throttled: boolean): number | undefined;
  /** Applies new limits to the shared buckets (defaults for what is left out). */
  configure(limits: RateLimits): void;
}

/** Shared limiters, with how many clients use each: the last one to let go removes it. */
const registry = new Map<string, { limiter: WorkspaceRateLimiter; users: number }>();

function registryKey(baseUrl: string, workspaceId: string): string {
  return `${baseUrl.replace(/\/+$/, "")} ${workspaceId}`;
}

/**
 * The limiter for a workspace, shared by every client of that workspace in this process, since Bird counts
 * requests per workspace, not per client. The latest caller's limits apply to the shared buckets, so a client
 * rebuilt after a spec change brings its new limits along. Each call counts a user until `releaseRateLimiter`.
 */
export function rateLimiterFor(
  baseUrl: string,
  workspaceId: string,
  limits: RateLimits = {},
  now?: () => number,
): WorkspaceRateLimiter {
  const key = registryKey(baseUrl, workspaceId);
  const existing = registry.get(key);
  if (existing) {
    existing.users++;
    existing.limiter.configure(limits);
    return existing.limiter;
  }
  const limiter = createWorkspaceRateLimiter(limits, now);
  registry.set(key, { limiter, users: 1 });
  return limiter;
}

/** A user of the workspace's shared limiter is done with it (its client was closed). */
export function releaseRateLimiter(baseUrl: string, workspaceId: string): void {
  const key = registryKey(baseUrl, workspaceId);
  const entry = registry.get(key);
  if (!entry) return;
  entry.users--;
  if (entry.users <= 0) registry.delete(key);
}

/** How many workspaces have a shared limiter: what the registry's memory grows with. */
export function sharedRateLimiterCount(): number {
  return registry.size;
}

/**
 * GETs and POSTs each paced by a token bucket, held to a second's worth in any window (DEFAULT_WINDOW_MS), and
 * slowed down by Bird's 429s (CubicRate).
 */
export function createWorkspaceRateLimiter(
  limits: RateLimits = {},
  now: () => number = () => performance.now(),
): WorkspaceRateLimiter {
  const windowMs = limits.windowMs ?? DEFAULT_WINDOW_MS;
  const get = new MethodLimiter(
    limits.getPerSecond ?? DEFAULT_GET_PER_SECOND,
    limits.getBurst ?? DEFAULT_GET_BURST,
    windowMs,
    now,
  );
  const post = new MethodLimiter(limits.postPerSecond ?? DEFAULT_POST_PER_SECOND, limits.postBurst, windowMs, now);
  const family = (method: string): MethodLimiter => (method.toUpperCase() === "GET" ? get : post);
  return {
    get: get.bucket,
    post: post.bucket,
    acquire: (method: string, priority?: Priority): Promise<number> => family(method).bucket.acquire(priority),
    answered: (method: string, throttled: boolean): number | undefined => family(method).answered(throttled, now()),
    configure: (next: RateLimits): void => {
      const span = next.windowMs ?? DEFAULT_WINDOW_MS;
      get.configure(next.getPerSecond ?? DEFAULT_GET_PER_SECOND, next.getBurst ?? DEFAULT_GET_BURST, span);
      post.configure(next.postPerSecond ?? DEFAULT_POST_PER_SECOND, next.postBurst, span);
    },
  };
}

/** Forgets every shared limiter: for tests, which must not inherit another test's buckets. */
export function resetRateLimiters(): void {
  registry.clear();
}
