import type { KubernetesObject } from "@kubernetes/client-node";
import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";
import type { EventRecorder } from "../../src/runtime/events.js";
import type { Informer, InformerHandler } from "../../src/runtime/informer.js";
import {
  JSON_PATCH,
  type JsonPatchOp,
  type KubeWriteVerb,
  type ResourceClient,
} from "../../src/runtime/resource-client.js";

/** One write as the API server would see it. */
export interface KubeWrite {
  kind: string;
  verb: KubeWriteVerb;
  name: string;
}

export interface RecordedEvent {
  type: string;
  reason: string;
  message: string;
}

function apiError(code: number, message: string): ApiException<string> {
  return new ApiException(code, message, JSON.stringify({ kind: "Status", code, message }), {});
}

/**
 * One kind held in memory: a ResourceClient and an Informer over the same map, close enough to the API server for a
 * reconciler (resourceVersion conflicts, AlreadyExists, NotFound, finalizers holding a deletion, the status
 * subresource). Informer handlers run synchronously on every write, so caches never lag; every write is recorded.
 */
export class FakeResources<T extends KubernetesObject & { status?: unknown }> {
  private readonly objects = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];

  constructor(
    readonly kind: string,
    private readonly writes: KubeWrite[],
    private readonly clock: { version: number; uid: number },
  ) {
    Object.assign(this.client, { kind: { kind } });
  }

  readonly informer = {
    get: (key: string): T | undefined => this.copy(this.objects.get(key)),
    list: (): T[] => [...this.objects.values()].map((o) => structuredClone(o)),
    keys: (): IterableIterator<string> => this.objects.keys(),
    on: (handler: InformerHandler<T>): void => void this.handlers.push(handler),
    // Handlers run on every write: the cache never lags.
    caughtUpWith: (): boolean => true,
  } as unknown as Informer<T>;

  readonly client = {
    revision: (): Promise<string> => Promise.resolve(String(this.clock.version)),
    get: (namespace: string | undefined, name: string): Promise<T> =>
      Promise.resolve(this.existing(key(namespace, name))),
    list: (options: { labelSelector?: string } = {}): Promise<T[]> =>
      Promise.resolve(this.informer.list().filter((o) => matches(o, options.labelSelector))),
    create: (object: T): Promise<T> => this.create(object),
    update: (object: T): Promise<T> => this.update(object),
    patch: (namespace: string | undefined, name: string, patch: unknown, contentType?: string): Promise<T> =>
      this.patch(key(namespace, name), patch, contentType),
    patchStatus: (namespace: string | undefined, name: string, status: unknown): Promise<T> =>
      this.patchStatus(key(namespace, name), status),
    patchStatusOps: (namespace: string | undefined, name: string, ops: JsonPatchOp[]): Promise<T> =>
      this.patchStatusOps(key(namespace, name), ops),
    delete: (
      namespace: string | undefined,
      name: string,
      options: { preconditions?: { uid?: string; resourceVersion?: string } } = {},
    ): Promise<unknown> => this.delete(key(namespace, name), options.preconditions),
  } as unknown as ResourceClient<T>;

  /** Puts an object in place without recording a write (the state a test starts from). */
  seed(object: T): T {
    const stored = structuredClone(object);
    stored.metadata = {
      uid: `uid-${++this.clock.uid}`,
      creationTimestamp: new Date("2026-01-01T00:00:00Z"),
      ...stored.metadata,
      resourceVersion: String(++this.clock.version),
    };
    this.objects.set(key(stored.metadata.namespace, stored.metadata.name ?? ""), stored);
    this.emit("add", stored);
    return structuredClone(stored);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.informer.get(key(namespace, name));
  }

  all(): T[] {
    return this.informer.list();
  }

  private async create(object: T): Promise<T> {
    this.record("create", object.metadata?.name);
    const k = key(object.metadata?.namespace, object.metadata?.name ?? "");
    if (this.objects.has(k)) throw apiError(409, "AlreadyExists");
    return Promise.resolve(this.seed(object));
  }

  private async update(object: T): Promise<T> {
    this.record("update", object.metadata?.name);
    const k = key(object.metadata?.namespace, object.metadata?.name ?? "");
    const current = this.existing(k);
    if (object.metadata?.resourceVersion !== current.metadata?.resourceVersion) throw apiError(409, "Conflict");
    return Promise.resolve(
      this.store(k, { ...structuredClone(object), metadata: { ...current.metadata, ...object.metadata } }),
    );
  }

  private async patch(k: string, patch: unknown, contentType?: string): Promise<T> {
    const current = this.existing(k);
    this.record("patch", current.metadata?.name);
    const next =
      contentType === JSON_PATCH ? applyJsonPatch(current, patch as JsonPatchOp[]) : (mergePatch(current, patch) as T);
    return Promise.resolve(this.store(k, next));
  }

  private async patchStatus(k: string, status: unknown): Promise<T> {
    const current = this.existing(k);
    this.record("patch-status", current.metadata?.name);
    return Promise.resolve(this.store(k, { ...current, status: mergePatch(current.status ?? {}, status) }));
  }

  /** As the API server: the ops apply to the whole object (a uid test included), and only status is kept. */
  private async patchStatusOps(k: string, ops: JsonPatchOp[]): Promise<T> {
    const current = this.existing(k);
    this.record("patch-status", current.metadata?.name);
    let status = structuredClone((current as { status?: Record<string, unknown> }).status);
    for (const op of ops) {
      if (op.path.startsWith("/metadata/")) {
        applyJsonPatch(current, [op]);
      } else if (op.path === "/status") {
        status = structuredClone(op.value) as Record<string, unknown>;
      } else {
        if (!status) throw apiError(422, `no status at ${op.path}`);
        const field = op.path.slice("/status/".length);
        if (op.value === null) delete status[field];
        else status[field] = structuredClone(op.value);
      }
    }
    return Promise.resolve(this.store(k, { ...current, status }));
  }

  private async delete(k: string, preconditions?: { uid?: string; resourceVersion?: string }): Promise<unknown> {
    const current = this.existing(k);
    this.record("delete", current.metadata?.name);
    if (preconditions?.uid && preconditions.uid !== current.metadata?.uid) throw apiError(409, "Conflict: uid");
    if (preconditions?.resourceVersion && preconditions.resourceVersion !== current.metadata?.resourceVersion)
      throw apiError(409, "Conflict: resourceVersion");
    if (current.metadata?.finalizers?.length)
      return Promise.resolve(
        this.store(k, { ...current, metadata: { ...current.metadata, deletionTimestamp: new Date() } }),
      );
    this.objects.delete(k);
    this.emit("delete", current);
    return Promise.resolve({});
  }

  private store(k: string, next: T): T {
    const old = this.objects.get(k);
    const stored = structuredClone(next);
    stored.metadata = { ...stored.metadata, resourceVersion: String(++this.clock.version) };
    if (stored.metadata.deletionTimestamp && !stored.metadata.finalizers?.length) {
      this.objects.delete(k);
      this.emit("delete", stored);
    } else {
      this.objects.set(k, stored);
      this.emit("update", stored, old);
    }
    return structuredClone(stored);
  }

  private existing(k: string): T {
    const object = this.objects.get(k);
    if (!object) throw apiError(404, `${this.kind} ${k} not found`);
    return structuredClone(object);
  }

  private copy(object: T | undefined): T | undefined {
    return object && structuredClone(object);
  }

  private emit(type: "add" | "update" | "delete", object: T, old?: T): void {
    const k = key(object.metadata?.namespace, object.metadata?.name ?? "");
    for (const handler of this.handlers) handler(type, structuredClone(object), old && structuredClone(old), k);
  }

  private record(verb: KubeWriteVerb, name: string | undefined): void {
    this.writes.push({ kind: this.kind, verb, name: name ?? "" });
  }
}

/** Every kind of one test's cluster, sharing one list of writes and one resourceVersion counter. */
export class FakeKube {
  readonly writes: KubeWrite[] = [];
  private readonly clock = { version: 0, uid: 0 };

  resources<T extends KubernetesObject & { status?: unknown }>(kind: string): FakeResources<T> {
    return new FakeResources<T>(kind, this.writes, this.clock);
  }
}

/** An EventRecorder that keeps what it was given. */
export function recordingEvents(): { recorder: EventRecorder; events: RecordedEvent[] } {
  const events: RecordedEvent[] = [];
  const recorder = {
    record: (_object: unknown, type: string, reason: string, message: string) => events.push({ type, reason, message }),
  } as unknown as EventRecorder;
  return { recorder, events };
}

/** A read-only informer over fixed objects (namespaces, workspaces). */
export function staticInformer<T extends KubernetesObject>(objects: T[]): Informer<T> {
  const byKey = new Map(objects.map((o) => [key(o.metadata?.namespace, o.metadata?.name ?? ""), o]));
  return {
    get: (k: string) => byKey.get(k),
    list: () => [...byKey.values()],
    keys: () => byKey.keys(),
    on: () => undefined,
  } as unknown as Informer<T>;
}

function key(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** `a=b,c=d` equality selectors: all the reconcilers use. */
function matches(object: KubernetesObject, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(",").every((term) => {
    const [k, v] = term.split("=");
    return object.metadata?.labels?.[k ?? ""] === v;
  });
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return structuredClone(patch);
  const result: Record<string, unknown> =
    target && typeof target === "object" && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete result[k];
    else result[k] = mergePatch(result[k], v);
  }
  return result;
}

/** The finalizer patches (test, then add or replace, under /metadata): a failed test is a 409 like the API server's. */
function applyJsonPatch<T extends KubernetesObject>(object: T, ops: JsonPatchOp[]): T {
  const next = structuredClone(object);
  const metadata = (next.metadata ?? {}) as Record<string, unknown>;
  for (const op of ops) {
    const [field = "", index] = op.path.replace(/^\/metadata\//, "").split("/");
    // The API server answers a failed test with 422 Invalid.
    if (op.op === "test" && JSON.stringify(metadata[field]) !== JSON.stringify(op.value))
      throw apiError(422, `test failed at ${op.path}`);
    if (index === "-" && op.op === "add") {
      if (!Array.isArray(metadata[field])) throw apiError(422, `no list at ${op.path}`);
      (metadata[field] as unknown[]).push(structuredClone(op.value));
    } else if (op.op === "add" || op.op === "replace") metadata[field] = structuredClone(op.value);
    if (op.op === "remove") delete metadata[field];
  }
  next.metadata = metadata;
  return next;
}
