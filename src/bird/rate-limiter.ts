/** Bird's documented per-workspace limits (docs "Rate Limit" page). */
export const DEFAULT_GET_PER_SECOND = 50;
export const DEFAULT_POST_PER_SECOND = 500;

export interface RateLimits {
  getPerSecond?: number;
  postPerSecond?: number;
  /** Bucket capacity; default ceil(rate / 5). */
  getBurst?: number;
  postBurst?: number;
}

export interface TokenBucketOptions {
  ratePerSecond: number;
  capacity?: number;
  /** Milliseconds from a monotonic source; injectable so tests drive time. */
  now?: () => number;
}

interface Waiter {
  resolve: (waitedMs: number) => void;
  since: number;
}

/** `background`: work off the path to Ready (subscription dates), served only from tokens nobody else waits for. */
export type Priority = "normal" | "background";

/**
 * A token bucket whose waiters are served in arrival order by one timer. The small default burst (a fifth of a
 * second's worth) is the point: requests leave at a steady pace, so jitter between here and Bird never makes
 * Bird's own bucket overflow, and the operator never earns a 429 by itself.
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

  constructor(options: TokenBucketOptions) {
    this.now = options.now ?? ((): number => performance.now());
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
    if (this.queue.length === 0 && queue.length === 0 && this.tokens >= this.threshold(priority)) {
      this.tokens -= 1;
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
    const delayMs = Math.max(0, Math.ceil(((needed - this.tokens) * 1000) / this.rate));
    this.timer = setTimeout(() => this.release(), delayMs);
  }

  private release(): void {
    this.timer = undefined;
    this.refill();
    const now = this.now();
    while (this.queue.length > 0 && this.tokens >= 1) {
      const waiter = this.queue.shift();
      this.tokens -= 1;
      waiter?.resolve(now - waiter.since);
    }
    while (this.queue.length === 0 && this.background.length > 0 && this.tokens >= this.threshold("background")) {
      const waiter = this.background.shift();
      this.tokens -= 1;
      waiter?.resolve(now - waiter.since);
    }
    this.schedule();
  }
}

/** One bucket per HTTP method family, for one workspace. */
export interface WorkspaceRateLimiter {
  readonly get: TokenBucket;
  readonly post: TokenBucket;
  /** GET takes from the GET bucket; everything else counts as a write. Resolves with the milliseconds waited. */
  acquire(method: string, priority?: Priority): Promise<number>;
  /** Applies new limits to the shared buckets (defaults for what is left out). */
  configure(limits: RateLimits): void;
}

const registry = new Map<string, WorkspaceRateLimiter>();

/**
 * The limiter for a workspace, shared by every client of that workspace in this process, since Bird counts
 * requests per workspace, not per client. The latest caller's limits apply to the shared buckets, so a client
 * rebuilt after a spec change brings its new limits along.
 */
export function rateLimiterFor(
  baseUrl: string,
  workspaceId: string,
  limits: RateLimits = {},
  now?: () => number,
): WorkspaceRateLimiter {
  const key = `${baseUrl.replace(/\/+$/, "")} ${workspaceId}`;
  const existing = registry.get(key);
  if (existing) {
    existing.configure(limits);
    return existing;
  }
  const limiter = createWorkspaceRateLimiter(limits, now);
  registry.set(key, limiter);
  return limiter;
}

export function createWorkspaceRateLimiter(limits: RateLimits = {}, now?: () => number): WorkspaceRateLimiter {
  const get = new TokenBucket({ ratePerSecond: limits.getPerSecond ?? DEFAULT_GET_PER_SECOND, capacity: limits.getBurst, now });
  const post = new TokenBucket({ ratePerSecond: limits.postPerSecond ?? DEFAULT_POST_PER_SECOND, capacity: limits.postBurst, now });
  return {
    get,
    post,
    acquire: (method: string, priority?: Priority): Promise<number> => (method.toUpperCase() === "GET" ? get : post).acquire(priority),
    configure: (next: RateLimits): void => {
      get.configure(next.getPerSecond ?? DEFAULT_GET_PER_SECOND, next.getBurst);
      post.configure(next.postPerSecond ?? DEFAULT_POST_PER_SECOND, next.postBurst);
    },
  };
}

/** Forgets every shared limiter: for tests, which must not inherit another test's buckets. */
export function resetRateLimiters(): void {
  registry.clear();
}
