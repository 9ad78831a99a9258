import { hostname } from "node:os";
import type { CoreV1Event, V1ObjectMeta, V1ObjectReference } from "@kubernetes/client-node";
import { silentLogger, type Logger } from "../log.js";
import { apiStatusCode, isApiStatus } from "./errors.js";
import type { KubeSource } from "./kube-config.js";
import { KubeHttp } from "./kube-http.js";
import { MERGE_PATCH } from "./resource-client.js";

export type EventType = "Normal" | "Warning";

export interface EventSubject {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
}

export interface EventRecorderOptions {
  kubeConfig: KubeSource;
  component: string;
  host?: string;
  logger?: Logger;
  now?: () => number;
  /** The operator's shared API connection pool; one of its own otherwise. */
  http?: KubeHttp;
  /** Told of each event not written (`spam-filter`, `backlog-full`): the operator counts them in a metric. */
  onDrop?: (why: EventDropReason) => void;
}

export type EventDropReason = "spam-filter" | "backlog-full";

/** A repeat within this window updates the existing Event (client-go's aggregation interval). */
const AGGREGATION_WINDOW_MS = 10 * 60_000;
const CACHE_SIZE = 4096;
/** client-go's EventSourceObjectSpamFilter: 25 events per object at once, then one per 5 minutes. */
const SPAM_BURST = 25;
const SPAM_REFILL_MS = 5 * 60_000;
const MAX_MESSAGE_BYTES = 1024;
/** Writes in flight at once, and writes waiting for a slot: events must never pile up without bound. */
const WRITE_CONCURRENCY = 8;
const MAX_BACKLOG = 10_000;
const REQUEST_TIMEOUT_MS = 5_000;
const RETRY_DELAYS_MS = [500, 1_000];

/** One distinct event (object, type, reason, message) and the Event object that reports it. */
interface Aggregate {
  namespace: string;
  involvedObject: V1ObjectReference;
  type: EventType;
  reason: string;
  message: string;
  count: number;
  firstTimestamp: number;
  lastTimestamp: number;
  /** The Event's name once created; a later create after expiry picks a new one. */
  name?: string;
  queued: boolean;
  writing: boolean;
  dirty: boolean;
}

/**
 * Records Kubernetes Events the way client-go's recorder does: repeats of one event within ten minutes bump the
 * count of one Event object instead of creating new ones, and a per-object, per-reason token bucket stops a loop from
 * flooding etcd. `record` never throws and never waits: writes happen in the background, a burst of repeats is
 * coalesced into one write carrying the latest count, and `flush` waits for them.
 */
export class EventRecorder {
  /** The shared keep-alive pool: client-node would open a new TLS connection for every Event. */
  private readonly http: KubeHttp;
  private readonly component: string;
  private readonly host: string;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly aggregates = new Lru<Aggregate>(CACHE_SIZE);
  private readonly spamFilter = new Lru<{ tokens: number; at: number }>(CACHE_SIZE);
  private readonly backlog: Aggregate[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private droppedCount = 0;
  private readonly onDrop?: (why: EventDropReason) => void;
  private sequence = 0;

  constructor(options: EventRecorderOptions) {
    this.http = options.http ?? new KubeHttp(options.kubeConfig);
    this.component = options.component;
    this.host = options.host ?? hostname();
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? Date.now;
    this.onDrop = options.onDrop;
  }

  record(object: EventSubject, type: EventType, reason: string, message: string): void {
    try {
      const now = this.now();
      const involvedObject = reference(object);
      if (!involvedObject.name)
        throw new Error(`a ${object.kind} without metadata.name cannot be the subject of an event`);
      if (!this.allow(involvedObject, reason, now)) {
        this.drop(involvedObject, reason, "spam-filter");
        return;
      }
      this.schedule(this.aggregate(involvedObject, type, reason, truncate(message), now));
    } catch (err) {
      this.logger.warn({ err, reason }, "Could not record an event");
    }
  }

  /** Resolves when every event recorded so far has been written or given up on. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Events not written because of the spam filter or a full backlog. */
  dropped(): number {
    return this.droppedCount;
  }

  /**
   * One bucket per object and reason (client-go keys by object alone): a flood of one kind of event, which another
   * team can cause on a record (refused claims of copied manifests), never silences the record's other events.
   */
  private allow(involvedObject: V1ObjectReference, reason: string, now: number): boolean {
    const key = `${objectKey(involvedObject)}\u0000${reason}`;
    const bucket = this.spamFilter.get(key) ?? { tokens: SPAM_BURST, at: now };
    bucket.tokens = Math.min(SPAM_BURST, bucket.tokens + (now - bucket.at) / SPAM_REFILL_MS);
    bucket.at = now;
    this.spamFilter.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private aggregate(
    involvedObject: V1ObjectReference,
    type: EventType,
    reason: string,
    message: string,
    now: number,
  ): Aggregate {
    const key = JSON.stringify([objectKey(involvedObject), type, reason, message]);
    const existing = this.aggregates.get(key);
    if (existing && now - existing.lastTimestamp <= AGGREGATION_WINDOW_MS) {
      existing.count++;
      existing.lastTimestamp = now;
      return existing;
    }
    const fresh: Aggregate = {
      namespace: involvedObject.namespace || "default",
      involvedObject,
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      queued: false,
      writing: false,
      dirty: false,
    };
    this.aggregates.set(key, fresh);
    return fresh;
  }

  /** At most one write per aggregate at a time; repeats meanwhile mark it dirty for one more write. */
  private schedule(aggregate: Aggregate): void {
    if (aggregate.writing) {
      aggregate.dirty = true;
      return;
    }
    if (aggregate.queued) return;
    if (this.backlog.length >= MAX_BACKLOG) {
      this.drop(aggregate.involvedObject, aggregate.reason, "backlog-full");
      return;
    }
    aggregate.queued = true;
    this.backlog.push(aggregate);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight.size < WRITE_CONCURRENCY) {
      const aggregate = this.backlog.shift();
      if (!aggregate) return;
      aggregate.queued = false;
      aggregate.writing = true;
      aggregate.dirty = false;
      const write: Promise<void> = this.write(aggregate).finally(() => {
        this.inFlight.delete(write);
        aggregate.writing = false;
        if (aggregate.dirty) this.schedule(aggregate);
        this.pump();
      });
      this.inFlight.add(write);
    }
  }

  private async write(aggregate: Aggregate): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (aggregate.name && (await this.patch(aggregate, aggregate.name))) return;
        await this.create(aggregate);
        return;
      } catch (err) {
        const delay = RETRY_DELAYS_MS[attempt];
        if (delay === undefined || !isTransient(err)) {
          this.logger.warn({ err, event: summary(aggregate) }, "Could not write an event");
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** False when the Event is gone (expired after the API server's event TTL): the caller creates a new one. */
  private async patch(aggregate: Aggregate, name: string): Promise<boolean> {
    const body = { count: aggregate.count, lastTimestamp: new Date(aggregate.lastTimestamp).toISOString() };
    try {
      await this.http.request({
        method: "PATCH",
        path: `/api/v1/namespaces/${aggregate.namespace}/events/${name}`,
        body,
        contentType: MERGE_PATCH,
        timeoutMs: REQUEST_TIMEOUT_MS,
      });
      return true;
    } catch (err) {
      if (!isApiStatus(err, 404)) throw err;
      this.logger.debug({ event: summary(aggregate) }, "Event expired; creating it anew");
      return false;
    }
  }

  private async create(aggregate: Aggregate): Promise<void> {
    const name = `${aggregate.involvedObject.name}.${this.uniqueSuffix()}`;
    const body: CoreV1Event = {
      metadata: { name, namespace: aggregate.namespace },
      involvedObject: aggregate.involvedObject,
      type: aggregate.type,
      reason: aggregate.reason,
      message: aggregate.message,
      count: aggregate.count,
      firstTimestamp: new Date(aggregate.firstTimestamp),
      lastTimestamp: new Date(aggregate.lastTimestamp),
      source: { component: this.component, host: this.host },
      reportingComponent: this.component,
      reportingInstance: this.host,
    };
    await this.http.request({
      method: "POST",
      path: `/api/v1/namespaces/${aggregate.namespace}/events`,
      body,
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
    aggregate.name = name;
  }

  /** client-go names Events `<object>.<hex nanoseconds>`; the sequence keeps two events in one millisecond apart. */
  private uniqueSuffix(): string {
    this.sequence = (this.sequence + 1) % 1_000_000;
    return (BigInt(this.now()) * 1_000_000n + BigInt(this.sequence)).toString(16);
  }

  private drop(involvedObject: V1ObjectReference, reason: string, why: EventDropReason): void {
    this.droppedCount++;
    this.onDrop?.(why);
    this.logger.debug({ object: objectKey(involvedObject), reason, why }, "Dropped an event");
  }
}

function reference(object: EventSubject): V1ObjectReference {
  const { name, namespace, uid, resourceVersion } = object.metadata;
  return { apiVersion: object.apiVersion, kind: object.kind, name, namespace, uid, resourceVersion };
}

function objectKey(ref: V1ObjectReference): string {
  return ref.uid ?? `${ref.apiVersion}/${ref.kind}/${ref.namespace ?? ""}/${ref.name ?? ""}`;
}

function summary(aggregate: Aggregate): Record<string, unknown> {
  const { kind, namespace, name } = aggregate.involvedObject;
  return { kind, namespace, name, reason: aggregate.reason, type: aggregate.type, eventName: aggregate.name };
}

/** Cuts at a character boundary: the API server counts bytes, and a split character would not be valid UTF-8. */
function truncate(message: string): string {
  const bytes = new TextEncoder().encode(message);
  if (bytes.length <= MAX_MESSAGE_BYTES) return message;
  return new TextDecoder().decode(bytes.slice(0, MAX_MESSAGE_BYTES)).replace(/\uFFFD+$/, "");
}

function isTransient(err: unknown): boolean {
  const code = apiStatusCode(err);
  return code === undefined || code === 429 || code >= 500;
}

/** A Map kept in recency order: reading or writing a key moves it to the end, the oldest falls off the front. */
class Lru<V> {
  private readonly map = new Map<string, V>();

  constructor(private readonly capacity: number) {}

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
  }
}
