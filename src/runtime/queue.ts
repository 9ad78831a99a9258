import type { Logger } from "../log.js";
import { silentLogger } from "../log.js";
import type { Metrics, QueueWork } from "./metrics.js";

export interface WorkQueueOptions {
  name: string;
  metrics?: Metrics;
  /** First per-key retry delay; doubles with each failure. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Shared by all keys, so a mass failure cannot turn into a retry storm. */
  overallRate?: { perSecond: number; burst: number };
  /** Fraction of the per-key delay added at random, so keys that failed together do not retry together. */
  jitter?: number;
  now?: () => number;
  logger?: Logger;
}

export type WorkHandler = (key: string) => Promise<void>;

/**
 * A work queue with client-go's guarantees: a key waits in the queue at most once, a key is never processed by two
 * workers at once (adding it while it runs marks it dirty and it runs again afterwards), delayed adds keep the
 * soonest deadline, and retries are rate limited per key (exponential) and overall (token bucket).
 */
export class WorkQueue {
  private readonly name: string;
  private readonly metrics: Metrics | undefined;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly queue = new Fifo();
  /** Keys that must be processed (again): waiting in `queue`, or running and re-added meanwhile. */
  private readonly dirty = new Set<string>();
  /** Keys being processed, with when each started. */
  private readonly processing = new Map<string, number>();
  private readonly addedAt = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly delayed: DelayHeap;
  private readonly limiter: RetryRateLimiter;
  private readonly turns = new TurnBudget();
  private workers = 0;
  private handler: WorkHandler | undefined;
  private shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.metrics = options.metrics;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger();
    this.delayed = new DelayHeap(this.now, (key) => this.add(key));
    this.metrics?.trackQueue(this.name, () => this.runningWork());
    this.limiter = new RetryRateLimiter({
      baseDelayMs: options.baseDelayMs ?? 5,
      maxDelayMs: options.maxDelayMs ?? 1_000_000,
      perSecond: options.overallRate?.perSecond ?? 10,
      burst: options.overallRate?.burst ?? 100,
      jitter: options.jitter ?? 0.1,
      now: this.now,
    });
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.addedAt.set(key, this.now());
    this.metrics?.workqueueAdds.inc({ name: this.name });
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.dispatch();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    this.delayed.schedule(key, this.now() + delayMs);
  }

  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    this.metrics?.workqueueRetries.inc({ name: this.name });
    this.addAfter(key, this.limiter.when(key));
  }

  /** Call when a key succeeded: its next failure starts again from the base delay. */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  /** The key's object is gone: its failure count and any delayed add (resync, backoff) go, so nothing of it stays. */
  drop(key: string): void {
    this.limiter.forget(key);
    this.delayed.cancel(key);
  }

  failures(key: string): number {
    return this.limiter.failures(key);
  }

  /** Keys the queue keeps anything for (waiting, running, delayed, failures): what its memory grows with. */
  trackedKeys(): Set<string> {
    return new Set([
      ...this.dirty,
      ...this.processing.keys(),
      ...this.addedAt.keys(),
      ...this.delayed.keys(),
      ...this.limiter.keys(),
    ]);
  }

  /** Keys ready to be handed to a worker (not those running or delayed). */
  len(): number {
    return this.queue.length;
  }

  /** Nothing waiting and nothing running; delayed adds (resyncs, backoffs) do not count. */
  isIdle(): boolean {
    return this.queue.length === 0 && this.processing.size === 0;
  }

  start(workers: number, handler: WorkHandler): void {
    if (this.handler) throw new Error(`work queue ${this.name} already started`);
    if (!(workers >= 1)) throw new Error(`work queue ${this.name} needs at least one worker, got ${workers}`);
    this.workers = workers;
    this.handler = handler;
    this.dispatch();
  }

  /** Stops handing out work and waits, at most `deadlineMs`, for running handlers to finish. */
  async shutdown(deadlineMs: number): Promise<void> {
    this.shuttingDown = true;
    this.delayed.clear();
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"deadline">((resolve) => {
      timer = setTimeout(() => resolve("deadline"), deadlineMs);
    });
    const outcome = await Promise.race([Promise.allSettled([...this.inFlight]), deadline]);
    clearTimeout(timer);
    if (outcome === "deadline") {
      this.logger.warn(
        { queue: this.name, running: [...this.processing.keys()] },
        "Shutdown deadline passed with work still running",
      );
    }
  }

  private dispatch(): void {
    const handler = this.handler;
    if (!handler) return;
    while (!this.shuttingDown && this.processing.size < this.workers) {
      const key = this.queue.shift();
      if (key === undefined) return;
      this.take(key);
      const run = this.process(key, handler);
      this.inFlight.add(run);
      void run.finally(() => this.inFlight.delete(run));
    }
  }

  private take(key: string): void {
    this.dirty.delete(key);
    this.processing.set(key, this.now());
    const addedAt = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (addedAt !== undefined) {
      this.metrics?.workqueueQueueDuration.observe({ name: this.name }, (this.now() - addedAt) / 1000);
    }
  }

  private async process(key: string, handler: WorkHandler): Promise<void> {
    const started = this.now();
    try {
      // Deferred so that add() never runs handler code synchronously inside its caller.
      await Promise.resolve();
      // Checked right before the handler runs (in the same synchronous step): a batch of workers starts together.
      while (this.turns.exhausted()) await this.turns.next();
      await handler(key);
    } catch (err) {
      this.logger.error(
        { queue: this.name, key, err },
        "Work handler threw; handlers should classify their own errors",
      );
    } finally {
      this.metrics?.workqueueWorkDuration.observe({ name: this.name }, (this.now() - started) / 1000);
      this.done(key);
    }
  }

  private done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.queue.push(key);
    this.dispatch();
  }

  /** client-go's unfinished work and longest running processor: what the running handlers have taken so far. */
  private runningWork(): QueueWork {
    const now = this.now();
    let unfinishedSeconds = 0;
    let longestSeconds = 0;
    for (const started of this.processing.values()) {
      const seconds = (now - started) / 1000;
      unfinishedSeconds += seconds;
      longestSeconds = Math.max(longestSeconds, seconds);
    }
    return { depth: this.dirty.size, unfinishedSeconds, longestSeconds };
  }
}

/**
 * Handlers that finish without waiting on I/O (a reconcile that finds nothing to change) would otherwise start one
 * after another as promise callbacks, never letting the event loop turn: after a restart that is 100,000 reconciles
 * in bursts, while the answers of Bird's list and the API server's watch events wait behind them. Once handlers have
 * started for `budgetMs` without a turn, the next ones start in the next turn (after pending I/O), in order.
 */
class TurnBudget {
  private since = Number.NaN;
  private nextTurn: Promise<void> | undefined;

  constructor(private readonly budgetMs = 10) {}

  /** Whether this turn's budget is spent: the caller should wait for `next()` before it starts anything. */
  exhausted(): boolean {
    const now = performance.now();
    if (Number.isNaN(this.since)) {
      // The first start of this turn: the budget runs until the turn ends.
      this.since = now;
      setImmediate(() => (this.since = Number.NaN));
    }
    return now - this.since >= this.budgetMs;
  }

  /** The next turn of the event loop (after pending I/O), shared by every caller waiting now, in order. */
  next(): Promise<void> {
    this.nextTurn ??= new Promise((resolve) =>
      setImmediate(() => {
        this.nextTurn = undefined;
        this.since = Number.NaN;
        resolve();
      }),
    );
    return this.nextTurn;
  }
}

/** A FIFO with O(1) shift: arrays shift in O(n), which matters with tens of thousands of keys. */
class Fifo {
  private items: string[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: string): void {
    this.items.push(item);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/**
 * Delayed keys in a min-heap under a single timer, so thousands of resyncs cost one timer, and rescheduling a key
 * sooner moves its entry instead of leaving a second one behind. The heap is two parallel arrays (keys, and their
 * deadlines in a Float64Array) and a map from key to position: after a restart every object has a resync waiting
 * here, and an entry object with a boxed deadline for each of 100,000 keys cost more than the key itself.
 */
class DelayHeap {
  private keyAt: string[] = [];
  private readyAt = new Float64Array(64);
  private readonly position = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(
    private readonly now: () => number,
    private readonly onReady: (key: string) => void,
  ) {}

  schedule(key: string, readyAt: number): void {
    const index = this.position.get(key);
    if (index !== undefined) {
      if (readyAt >= this.at(index)) return;
      this.readyAt[index] = readyAt;
      this.siftUp(index);
    } else {
      const last = this.keyAt.length;
      if (last === this.readyAt.length) this.grow();
      this.keyAt.push(key);
      this.readyAt[last] = readyAt;
      this.position.set(key, last);
      this.siftUp(last);
    }
    this.arm();
  }

  cancel(key: string): void {
    const index = this.position.get(key);
    if (index !== undefined) this.removeAt(index);
  }

  keys(): IterableIterator<string> {
    return this.position.keys();
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    this.keyAt = [];
    this.readyAt = new Float64Array(64);
    this.position.clear();
  }

  private arm(): void {
    if (this.keyAt.length === 0 || this.at(0) >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = this.at(0);
    this.timer = setTimeout(() => this.fire(), Math.max(0, this.timerAt - this.now()));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.now();
    while (this.keyAt.length > 0 && this.at(0) <= now) {
      const key = this.keyAt[0] as string;
      this.removeAt(0);
      this.onReady(key);
    }
    this.arm();
  }

  /** Takes the entry at `index` out: the last entry fills its place and moves to where it belongs. */
  private removeAt(index: number): void {
    const key = this.keyAt[index] as string;
    this.position.delete(key);
    const lastIndex = this.keyAt.length - 1;
    const lastKey = this.keyAt.pop() as string;
    if (index === lastIndex) return;
    this.keyAt[index] = lastKey;
    this.readyAt[index] = this.at(lastIndex);
    this.position.set(lastKey, index);
    this.siftUp(this.siftDown(index));
  }

  private grow(): void {
    const bigger = new Float64Array(this.readyAt.length * 2);
    bigger.set(this.readyAt);
    this.readyAt = bigger;
  }

  private siftUp(index: number): void {
    for (let i = index; i > 0;) {
      const parent = (i - 1) >> 1;
      if (this.at(parent) <= this.at(i)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Moves the entry down to where it belongs; returns where that is. */
  private siftDown(index: number): number {
    const size = this.keyAt.length;
    for (let i = index; ;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < size && this.at(left) < this.at(smallest)) smallest = left;
      if (right < size && this.at(right) < this.at(smallest)) smallest = right;
      if (smallest === i) return i;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private at(index: number): number {
    return this.readyAt[index] as number;
  }

  private swap(a: number, b: number): void {
    const keyA = this.keyAt[a] as string;
    const keyB = this.keyAt[b] as string;
    this.keyAt[a] = keyB;
    this.keyAt[b] = keyA;
    const readyA = this.at(a);
    this.readyAt[a] = this.at(b);
    this.readyAt[b] = readyA;
    this.position.set(keyA, b);
    this.position.set(keyB, a);
  }
}

/**
 * client-go's DefaultControllerRateLimiter: the larger of a per-key exponential backoff and a token bucket shared
 * by every key. The bucket reserves ahead like golang.org/x/time/rate: tokens go negative, so a burst of failures is
 * spread out at the overall rate instead of all waiting for the same refill.
 */
class RetryRateLimiter {
  private readonly failureCounts = new Map<string, number>();
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly options: {
      baseDelayMs: number;
      maxDelayMs: number;
      perSecond: number;
      burst: number;
      jitter: number;
      now: () => number;
    },
  ) {
    this.tokens = options.burst;
    this.refilledAt = options.now();
  }

  when(key: string): number {
    const failures = this.failureCounts.get(key) ?? 0;
    this.failureCounts.set(key, failures + 1);
    return Math.max(this.itemDelay(failures), this.bucketDelay());
  }

  forget(key: string): void {
    this.failureCounts.delete(key);
  }

  failures(key: string): number {
    return this.failureCounts.get(key) ?? 0;
  }

  keys(): IterableIterator<string> {
    return this.failureCounts.keys();
  }

  private itemDelay(failures: number): number {
    const { baseDelayMs, maxDelayMs, jitter } = this.options;
    const backoff = Math.min(baseDelayMs * 2 ** failures, maxDelayMs);
    return Math.min(backoff * (1 + jitter * Math.random()), maxDelayMs);
  }

  private bucketDelay(): number {
    const { perSecond, burst, now } = this.options;
    const at = now();
    this.tokens = Math.min(burst, this.tokens + ((at - this.refilledAt) / 1000) * perSecond);
    this.refilledAt = at;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / perSecond) * 1000;
  }
}
