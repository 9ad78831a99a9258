import { randomBytes } from "node:crypto";

/** Reconcile ids: a per-process random prefix and a counter (a random id per reconcile cost a syscall each). */
const ID_PREFIX = randomBytes(3).toString("hex");
let reconciles = 0;
function nextReconcileId(): string {
  return `${ID_PREFIX}-${(++reconciles).toString(36)}`;
}
import type { KubernetesObject } from "@kubernetes/client-node";
import { lazyChild, type Logger } from "../log.js";
import { classifyError, errorMessage, PermanentError } from "./errors.js";
import { type Informer, type InformerEventType } from "./informer.js";
import type { Metrics } from "./metrics.js";
import type { OwnWrites } from "./own-writes.js";
import { WorkQueue } from "./queue.js";

export interface ReconcileContext {
  log: Logger;
  reconcileId: string;
}

/**
 * What the queue does with the key next: `forget` when the object is gone (nothing is kept for the key, no resync);
 * `requeueAfterMs` to poll sooner than the resync interval (e.g. while Bird provisions a number); else a resync.
 */
export interface ReconcileResult {
  requeueAfterMs?: number;
  forget?: boolean;
}

/** The object is gone: done, and the key is forgotten (kubebuilder's "not found" is no requeue). */
export const FORGET: Readonly<ReconcileResult> = Object.freeze({ forget: true });

/**
 * A reconcile held back for a cache that has not shown our last write runs when the watch event comes; if none came
 * (a watch broken meanwhile), it looks again after this long. The write is waited for 60 s at most (OwnWrites).
 */
const CACHE_WAIT_MAX_MS = 5_000;

export type ReconcileFn = (key: string, context: ReconcileContext) => Promise<ReconcileResult>;

export interface ControllerOptions {
  name: string;
  reconcile: ReconcileFn;
  logger: Logger;
  metrics?: Metrics;
  workers?: number;
  /** Successful reconciles come back after this long, jittered by +/-10 %, to repair drift. */
  resyncMs?: number;
  /** Delay after a write conflict: the cache usually catches up within a few milliseconds. */
  conflictDelayMs?: number;
  queue?: WorkQueue;
  /**
   * A key whose reconcile would only wait for something already on its way (e.g. its number in a Bird list still in
   * flight) is deferred here: given `wake`, return true, and the key leaves the worker to others until `wake` is
   * called (once, whatever happened). False: go. A callback, not a promise: 100,000 keys wait at once after a restart.
   */
  deferUntil?: (key: string, wake: () => void) => boolean;
}

/**
 * Watches → queue → reconcile → classify the outcome → requeue. Reconcilers only ever see a key.
 *
 * After a restart, the first pass over every object is what users wait for: the controller remembers the keys its
 * primary informers hold when it starts (their caches are synced by then) and, once each has been reconciled once
 * (any result), records `bird_operator_initial_reconcile_seconds` and logs it.
 */
export class Controller {
  readonly queue: WorkQueue;
  private readonly workers: number;
  private readonly resyncMs: number;
  private readonly primaries: Pick<Informer<KubernetesObject>, "keys" | "get">[] = [];
  /** Keys present at start not reconciled yet; undefined before start and once all were (the set is freed). */
  private initialPending: Set<string> | undefined;
  private initialCount = 0;
  private ownWrites?: OwnWrites;
  /** Our writes, to hold back a reconcile until the cache shows the last one (see process). */
  private writes?: OwnWrites;
  /** Keys held back until the cache shows our last write to them, with the timer that looks again without an event. */
  private readonly awaitingCache = new Map<string, NodeJS.Timeout>();
  /** Keys being reconciled, with the resourceVersions of the relevant updates seen meanwhile. */
  private readonly active = new Map<string, string[]>();
  private startedAtSeconds = 0;
  /** Resolved when the initial pass is done (see start). */
  private readonly initialPassSettled: Promise<void>;
  private settleInitialPass: () => void = () => undefined;
  /** Workers start once `other`'s initial pass is done, or `maxWaitMs` after this one's start (see startAfter). */
  private workersAfter?: { other: Controller; maxWaitMs: number };

  constructor(private readonly options: ControllerOptions) {
    this.queue = options.queue ?? new WorkQueue({ name: options.name, metrics: options.metrics });
    this.workers = options.workers ?? 4;
    this.resyncMs = options.resyncMs ?? 10 * 60_000;
    this.initialPassSettled = new Promise((resolve) => (this.settleInitialPass = resolve));
  }

  /** Settles once every object present at start was reconciled once (see start). */
  initialPass(): Promise<void> {
    return this.initialPassSettled;
  }

  /**
   * Starts this controller's workers only once `other` finished its initial pass, or `maxWaitMs` after this one's
   * start: after a restart, the objects users wait for go first, bookkeeping that nobody waits for (ownership records)
   * after. The keys are queued at start all the same; nothing is lost, only ordered.
   */
  startAfter(other: Controller, maxWaitMs: number): this {
    this.workersAfter = { other, maxWaitMs };
    return this;
  }

  get name(): string {
    return this.options.name;
  }

  /**
   * The controller's own kind: every change except a status-only update enqueues the object's key. With `ownWrites`,
   * our own writes' events do not (the reconcile that made them already acted on the result) unless
   * `wakeOnOwnWrites`; and a status-only update that is not ours (a restored backup, a `kubectl patch`) does: status
   * is the operator's report, so what someone else wrote there is replaced by what is true.
   */
  watchPrimary<T extends KubernetesObject>(
    informer: Informer<T>,
    ownWrites?: OwnWrites,
    options: { wakeOnOwnWrites?: boolean } = {},
  ): this {
    this.primaries.push(informer);
    if (ownWrites && !options.wakeOnOwnWrites) this.ownWrites = ownWrites;
    if (ownWrites) this.writes = ownWrites;
    informer.on((type, object, old, key) => {
      ownWrites?.seen(object, type === "delete");
      // A key held back for this very version (see process) comes back once, whichever way the event is routed.
      const caughtUp =
        this.awaitingCache.has(key) && (type === "delete" || !ownWrites?.behind(object)) && this.stopAwaiting(key);
      if (!this.primaryEvent(type, object, old, key, ownWrites, options) && caughtUp) this.queue.add(key);
    });
    return this;
  }

  /** Queues the key for a change of the controller's own kind (see watchPrimary); whether it did. */
  private primaryEvent(
    type: InformerEventType,
    object: KubernetesObject,
    old: KubernetesObject | undefined,
    key: string,
    ownWrites: OwnWrites | undefined,
    options: { wakeOnOwnWrites?: boolean },
  ): boolean {
    const relevant = type !== "update" || !old || specOrMetaChanged(old, object);
    if (type === "update" && ownWrites && !relevant) {
      if (ownWrites.consume(object) || this.active.has(key)) return false;
      this.queue.add(key);
      return true;
    }
    if (type === "update" && ownWrites && !options.wakeOnOwnWrites) {
      // The watch may deliver our write before its HTTP answer arrives: while the key is being reconciled, which
      // writes were ours is known only at the end (see process), as client-go's dirty set would reprocess it then.
      const version = object.metadata?.resourceVersion;
      if (this.active.has(key)) {
        if (relevant && version) this.active.get(key)?.push(version);
        return false;
      }
      if (ownWrites.consume(object)) return false;
    }
    if (relevant) this.queue.add(key);
    return relevant;
  }

  /**
   * Another kind whose changes affect this controller's objects (e.g. a Secret behind a workspace). A delay
   * coalesces bursts (a thousand numbers turning Ready make one workspace status update, not a thousand).
   */
  watchRelated<T extends KubernetesObject>(
    informer: Informer<T>,
    map: (object: T, old: T | undefined, type: InformerEventType) => string[],
    delayMs = 0,
  ): this {
    informer.on((type, object, old) => {
      for (const key of map(object, old, type)) {
        if (delayMs > 0) this.queue.addAfter(key, delayMs);
        else this.queue.add(key);
      }
    });
    return this;
  }

  /** Call once the informers synced (the Manager does): the keys they hold then make the initial pass. */
  start(): void {
    this.startedAtSeconds = process.uptime();
    // The caches' own key strings (a fresh objectKey per object would be 100,000 more strings to hash and hold).
    const keys = new Set<string>();
    for (const informer of this.primaries) for (const key of informer.keys()) keys.add(key);
    this.initialPending = keys;
    this.initialCount = keys.size;
    // The informers' add events queued these keys already; adding again is a no-op then, and covers an informer
    // that synced before this controller watched it.
    for (const key of keys) this.queue.add(key);
    if (keys.size === 0) this.initialPassDone();
    const startWorkers = (): void => this.queue.start(this.workers, (key) => this.process(key));
    const after = this.workersAfter;
    if (!after) return startWorkers();
    const waited = new Promise<void>((resolve) => setTimeout(resolve, after.maxWaitMs).unref());
    void Promise.race([after.other.initialPass(), waited]).then(startWorkers);
  }

  async stop(deadlineMs: number): Promise<void> {
    for (const timer of this.awaitingCache.values()) clearTimeout(timer);
    this.awaitingCache.clear();
    await this.queue.shutdown(deadlineMs);
  }

  private async process(key: string): Promise<void> {
    if (this.cacheBehind(key)) {
      // Our last write to this object is not in the cache yet: acting on the older copy would redo what that write
      // recorded (activate destinations again, say). The watch event is moments away; it brings the key back.
      clearTimeout(this.awaitingCache.get(key));
      this.awaitingCache.set(
        key,
        setTimeout(() => this.stopAwaiting(key) && this.queue.add(key), CACHE_WAIT_MAX_MS).unref(),
      );
      return;
    }
    if (this.options.deferUntil?.(key, () => this.queue.add(key))) return;
    this.active.set(key, []);
    try {
      await this.reconcileOnce(key);
    } finally {
      const seen = this.active.get(key) ?? [];
      this.active.delete(key);
      const ownWrites = this.ownWrites;
      if (seen.some((version) => !ownWrites?.consume({ metadata: { resourceVersion: version } }))) this.queue.add(key);
    }
  }

  /** Whether the key was held back for the cache; it no longer is. */
  private stopAwaiting(key: string): boolean {
    clearTimeout(this.awaitingCache.get(key));
    return this.awaitingCache.delete(key);
  }

  private cacheBehind(key: string): boolean {
    const writes = this.writes;
    if (!writes) return false;
    for (const informer of this.primaries) {
      const cached = informer.get(key);
      if (cached && writes.behind(cached)) return true;
    }
    return false;
  }

  private async reconcileOnce(key: string): Promise<void> {
    const { name, metrics, logger } = this.options;
    const reconcileId = nextReconcileId();
    const log = lazyChild(logger, { controller: name, key, reconcileId });
    const started = process.hrtime.bigint();
    let result: string;
    try {
      const outcome = await this.options.reconcile(key, { log, reconcileId });
      this.queue.forget(key);
      if (outcome.forget) {
        this.queue.drop(key);
        result = "success";
      } else if (outcome.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, outcome.requeueAfterMs);
        result = "requeue_after";
      } else {
        this.queue.addAfter(key, this.resyncDelayMs());
        result = "success";
      }
    } catch (error) {
      result = this.handleError(key, error, log);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics?.reconcileTotal.inc({ controller: name, result });
    metrics?.reconcileTime.observe({ controller: name }, seconds);
    if (this.initialPending?.delete(key) && this.initialPending.size === 0) this.initialPassDone();
  }

  /** The resync interval, jittered by +/-10 % so that objects reconciled together do not come back together. */
  private resyncDelayMs(): number {
    return this.resyncMs * (0.9 + Math.random() * 0.2);
  }

  /**
   * The gauge holds seconds since the process started (what a restart costs
   * users, cache sync included); the log adds those since this start.
   */
  private initialPassDone(): void {
    this.initialPending = undefined;
    this.settleInitialPass();
    const uptime = process.uptime();
    this.options.metrics?.initialReconcileSeconds.set({ controller: this.options.name }, uptime);
    this.options.logger.info(
      {
        controller: this.options.name,
        objects: this.initialCount,
        seconds: Math.round(uptime * 1000) / 1000,
        sinceControllerStartSeconds: Math.round((uptime - this.startedAtSeconds) * 1000) / 1000,
      },
      "Reconciled every object present at start",
    );
  }

  private handleError(key: string, error: unknown, log: Logger): string {
    const errorClass = classifyError(error);
    switch (errorClass) {
      case "not-found":
        this.queue.drop(key);
        return "success";
      case "conflict":
        log.debug({ err: errorMessage(error) }, "Write conflict; requeueing");
        this.queue.addAfter(key, this.options.conflictDelayMs ?? 50);
        return "requeue";
      case "permanent": {
        // No backoff: retrying cannot help until something changes. But what changes may be nothing this controller
        // watches (an admission policy, RBAC, a namespace's labels, cheaper stock), so it looks again at the resync
        // interval, or sooner when the error says when.
        this.options.metrics?.reconcileErrors.inc({ controller: this.options.name });
        const retryAfterMs =
          error instanceof PermanentError && error.retryAfterMs !== undefined
            ? error.retryAfterMs
            : this.resyncDelayMs();
        log.error(
          { err: errorMessage(error), retryAfterMs },
          "Reconcile failed permanently; retrying on a change to the object or later",
        );
        this.queue.forget(key);
        this.queue.addAfter(key, retryAfterMs);
        return "error";
      }
      case "transient":
        this.options.metrics?.reconcileErrors.inc({ controller: this.options.name });
        log.warn(
          { err: errorMessage(error), failures: this.queue.failures(key) + 1 },
          "Reconcile failed; retrying with backoff",
        );
        this.queue.addRateLimited(key);
        return "error";
    }
  }
}

/** Status-only updates (our own writes, mostly) carry no new intent; everything users change does. */
export function specOrMetaChanged(old: KubernetesObject, current: KubernetesObject): boolean {
  const a = old.metadata ?? {};
  const b = current.metadata ?? {};
  if (a.generation !== b.generation || a.deletionTimestamp !== b.deletionTimestamp) return true;
  if (b.generation === undefined) return true;
  return (
    JSON.stringify(a.finalizers ?? []) !== JSON.stringify(b.finalizers ?? []) ||
    JSON.stringify(a.annotations ?? {}) !== JSON.stringify(b.annotations ?? {}) ||
    JSON.stringify(a.labels ?? {}) !== JSON.stringify(b.labels ?? {})
  );
}
