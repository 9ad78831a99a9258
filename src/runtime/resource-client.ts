import type { KubernetesObject } from "@kubernetes/client-node";
import { KubeHttp } from "./kube-http.js";
import type { OwnWrites } from "./own-writes.js";

export interface ResourceKind {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export type KubeWriteVerb = "create" | "update" | "patch" | "patch-status" | "delete";
export type WriteObserver = (kind: string, verb: KubeWriteVerb) => void;

export const MERGE_PATCH = "application/merge-patch+json";
export const JSON_PATCH = "application/json-patch+json";

export interface JsonPatchOp {
  op: "add" | "remove" | "replace" | "test";
  path: string;
  value?: unknown;
}

/** Typed reads and writes of one custom resource kind, over the shared keep-alive connection pool. */
export class ResourceClient<T extends KubernetesObject> {
  constructor(
    private readonly http: KubeHttp,
    readonly kind: ResourceKind,
    private readonly onWrite?: WriteObserver,
    /** Remembers what our writes produced, so a controller can ignore the watch events they cause. */
    private readonly ownWrites?: OwnWrites,
  ) {}

  get apiVersion(): string {
    return this.kind.group ? `${this.kind.group}/${this.kind.version}` : this.kind.version;
  }

  collectionPath(namespace?: string): string {
    // The core group ("") lives under /api, every other group under /apis.
    const base = this.kind.group ? `/apis/${this.kind.group}/${this.kind.version}` : `/api/${this.kind.version}`;
    return this.kind.namespaced && namespace
      ? `${base}/namespaces/${namespace}/${this.kind.plural}`
      : `${base}/${this.kind.plural}`;
  }

  get(namespace: string | undefined, name: string): Promise<T> {
    return this.http.request<T>({ method: "GET", path: `${this.collectionPath(namespace)}/${name}` });
  }

  /**
   * The store's current revision, from a consistent list of one item: every write the API server answered before
   * this call has a resourceVersion no later than it.
   */
  async revision(): Promise<string> {
    const list = await this.http.request<{ metadata?: { resourceVersion?: string } }>({
      method: "GET",
      path: this.collectionPath(),
      query: { limit: 1 },
    });
    return list.metadata?.resourceVersion ?? "";
  }

  /** A consistent list (read from etcd, not the watch cache), across namespaces unless one is given. */
  async list(options: { namespace?: string; labelSelector?: string } = {}): Promise<T[]> {
    const list = await this.http.request<{ items: T[] }>({
      method: "GET",
      path: this.collectionPath(options.namespace),
      query: { labelSelector: options.labelSelector },
    });
    return list.items.map((item) => ({ ...item, apiVersion: this.apiVersion, kind: this.kind.kind }));
  }

  create(object: T): Promise<T> {
    this.onWrite?.(this.kind.kind, "create");
    return this.http.request<T>({
      method: "POST",
      path: this.collectionPath(object.metadata?.namespace),
      body: object,
    });
  }

  /** A full update carries metadata.resourceVersion: a stale copy gets 409 Conflict instead of overwriting. */
  update(object: T): Promise<T> {
    this.onWrite?.(this.kind.kind, "update");
    const { namespace, name } = object.metadata ?? {};
    return this.own(
      this.http.request<T>({ method: "PUT", path: `${this.collectionPath(namespace)}/${name}`, body: object }),
    );
  }

  patch(namespace: string | undefined, name: string, patch: unknown, contentType = MERGE_PATCH): Promise<T> {
    this.onWrite?.(this.kind.kind, "patch");
    return this.own(
      this.http.request<T>({
        method: "PATCH",
        path: `${this.collectionPath(namespace)}/${name}`,
        body: patch,
        contentType,
      }),
    );
  }

  /** Merge patch of the status subresource: the only way status can be written. */
  patchStatus(namespace: string | undefined, name: string, status: unknown): Promise<T> {
    this.onWrite?.(this.kind.kind, "patch-status");
    return this.own(
      this.http.request<T>({
        method: "PATCH",
        path: `${this.collectionPath(namespace)}/${name}/status`,
        body: { status },
        contentType: MERGE_PATCH,
      }),
    );
  }

  /** A JSON Patch of the status subresource (applied to the whole object, so it may `test` metadata first). */
  patchStatusOps(namespace: string | undefined, name: string, ops: JsonPatchOp[]): Promise<T> {
    this.onWrite?.(this.kind.kind, "patch-status");
    return this.own(
      this.http.request<T>({
        method: "PATCH",
        path: `${this.collectionPath(namespace)}/${name}/status`,
        body: ops,
        contentType: JSON_PATCH,
      }),
    );
  }

  private async own(write: Promise<T>): Promise<T> {
    const object = await write;
    this.ownWrites?.record(object);
    return object;
  }

  /** `preconditions` make the delete fail with 409 when the object is no longer the one the decision was made on. */
  delete(
    namespace: string | undefined,
    name: string,
    options: { preconditions?: { uid?: string; resourceVersion?: string } } = {},
  ): Promise<unknown> {
    this.onWrite?.(this.kind.kind, "delete");
    const body = options.preconditions
      ? { apiVersion: "v1", kind: "DeleteOptions", preconditions: options.preconditions }
      : undefined;
    return this.http.request({ method: "DELETE", path: `${this.collectionPath(namespace)}/${name}`, body });
  }
}
