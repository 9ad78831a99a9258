import type { V1Secret } from "@kubernetes/client-node";
import { type BirdWorkspace } from "../../api/v1alpha1/index.js";
import { Reason, READY } from "../../api/v1alpha1/conditions.js";
import { createBirdClient, type BirdClient } from "../../bird/client.js";
import { BuyBatcher } from "../../bird/buy-batcher.js";
import { Inventory } from "../../bird/inventory.js";
import { StockPool } from "../../bird/stock-pool.js";
import type { Logger } from "../../log.js";
import type { Informer } from "../../runtime/informer.js";
import type { Metrics } from "../../runtime/metrics.js";
import { findCondition } from "../../runtime/status.js";
import { metricsObserver } from "../../runtime/bird-metrics.js";

export const DEFAULT_ENDPOINT = "https://api.bird.com";
export const DEFAULT_SECRET_KEY = "accessKey";

/** What the reconcilers of one workspace share: its client (and so its rate limiters) and its inventory. */
export interface WorkspaceConnection {
  workspace: BirdWorkspace;
  client: BirdClient;
  inventory: Inventory;
  stockPool: StockPool;
  /** Purchases of this workspace, up to 25 stock items a buy call. */
  buyer: BuyBatcher;
}

export type Resolution<T> = { ok: true; value: T } | { ok: false; reason: string; message: string };

export interface ConnectionOptions {
  workspaces: Informer<BirdWorkspace>;
  secrets: Informer<V1Secret>;
  operatorNamespace: string;
  logger: Logger;
  metrics?: Metrics;
  inventoryMaxAgeMs: number;
  birdTimeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * One connection per BirdWorkspace, rebuilt when its endpoint, ids or rate limits change. The AccessKey is read from
 * the Secret cache on every request, so a rotated key is used at once, and it is never copied anywhere else.
 */
export class WorkspaceConnections {
  private readonly connections = new Map<string, { fingerprint: string; connection: WorkspaceConnection }>();

  constructor(private readonly options: ConnectionOptions) {}

  /** The workspace's AccessKey, or why it cannot be read. Never logged, never put in a message. */
  accessKey(workspace: BirdWorkspace): Resolution<string> {
    const ref = workspace.spec.accessKeySecretRef;
    const key = ref.key ?? DEFAULT_SECRET_KEY;
    if (ref.namespace !== this.options.operatorNamespace) {
      return {
        ok: false,
        reason: Reason.SecretNotFound,
        message: `the operator reads AccessKey Secrets only in its namespace "${this.options.operatorNamespace}"; move Secret ${ref.namespace}/${ref.name} there and update spec.accessKeySecretRef.namespace`,
      };
    }
    const secret = this.options.secrets.get(`${ref.namespace}/${ref.name}`);
    if (!secret) {
      return { ok: false, reason: Reason.SecretNotFound, message: `Secret ${ref.namespace}/${ref.name} not found: create it with the workspace's AccessKey under the key "${key}"` };
    }
    const encoded = secret.data?.[key];
    const value = encoded ? Buffer.from(encoded, "base64").toString("utf8").trim() : secret.stringData?.[key]?.trim();
    if (!value) {
      return { ok: false, reason: Reason.KeyNotFound, message: `Secret ${ref.namespace}/${ref.name} has no non-empty key "${key}"` };
    }
    return { ok: true, value };
  }

  /** A connection for a workspace by name, without calling Bird. */
  connect(name: string): Resolution<WorkspaceConnection> {
    const workspace = this.options.workspaces.get(name);
    if (!workspace) {
      return { ok: false, reason: Reason.WorkspaceNotFound, message: `BirdWorkspace "${name}" not found: create it, or fix spec.workspaceRef.name` };
    }
    const key = this.accessKey(workspace);
    if (!key.ok) return key;
    const fingerprint = JSON.stringify([workspace.spec.endpoint, workspace.spec.organizationId, workspace.spec.workspaceId, workspace.spec.rateLimits]);
    const cached = this.connections.get(name);
    if (cached?.fingerprint === fingerprint) {
      cached.connection.workspace = workspace;
      return { ok: true, value: cached.connection };
    }
    const connection = this.build(workspace);
    this.connections.set(name, { fingerprint, connection });
    return { ok: true, value: connection };
  }

  /** A connection to a workspace that is Ready (and not a duplicate), for use by number and sender reconcilers. */
  connectReady(name: string): Resolution<WorkspaceConnection> {
    const connection = this.connect(name);
    if (!connection.ok) return connection;
    const usable = workspaceUsable(connection.value.workspace, this.options.workspaces.list());
    return usable.ok ? connection : usable;
  }

  private build(workspace: BirdWorkspace): WorkspaceConnection {
    const name = workspace.metadata?.name ?? "";
    const client = createBirdClient({
      baseUrl: workspace.spec.endpoint ?? DEFAULT_ENDPOINT,
      organizationId: workspace.spec.organizationId,
      workspaceId: workspace.spec.workspaceId,
      accessKey: () => {
        const current = this.options.workspaces.get(name) ?? workspace;
        const key = this.accessKey(current);
        if (!key.ok) throw new Error(key.message);
        return key.value;
      },
      rateLimits: workspace.spec.rateLimits,
      timeoutMs: this.options.birdTimeoutMs,
      fetch: this.options.fetch,
      logger: this.options.logger.child({ workspace: name }),
      observer: this.options.metrics ? metricsObserver(this.options.metrics) : undefined,
    });
    return {
      workspace,
      client,
      inventory: new Inventory(client, this.options.inventoryMaxAgeMs),
      stockPool: new StockPool(client),
      buyer: new BuyBatcher((ids) => client.buyNumbers(ids)),
    };
  }
}


/**
 * Whether resources may use the workspace: not a duplicate of an older one (`all` are the workspaces to compare with),
 * not being deleted, and Ready. Exported for `bird-operator plan`, which reads the same facts from the API server.
 */
export function workspaceUsable(workspace: BirdWorkspace, all: readonly BirdWorkspace[]): Resolution<true> {
  const name = workspace.metadata?.name ?? "";
  const first = duplicateOf(workspace, all);
  if (first) {
    return { ok: false, reason: Reason.DuplicateWorkspace, message: `BirdWorkspace "${name}" names the same Bird workspace as "${first.metadata?.name}", which was there first: use "${first.metadata?.name}"` };
  }
  if (workspace.metadata?.deletionTimestamp) {
    return { ok: false, reason: Reason.WorkspaceNotReady, message: `BirdWorkspace "${name}" is being deleted: nothing new is claimed or bought through it` };
  }
  const ready = findCondition(workspace.status?.conditions, READY);
  if (ready?.status !== "True") {
    const why = ready ? `${ready.reason}: ${ready.message}` : "not yet checked";
    return { ok: false, reason: Reason.WorkspaceNotReady, message: `BirdWorkspace "${name}" is not Ready (${why})` };
  }
  return { ok: true, value: true };
}

/**
 * The BirdWorkspace that names the same Bird workspace (endpoint, organization, workspace) and came first, if any:
 * a second one would carry its own limits for the same bill, so only the first is used.
 */
export function duplicateOf(workspace: BirdWorkspace, all: readonly BirdWorkspace[]): BirdWorkspace | undefined {
  const identity = birdIdentity(workspace);
  let first: BirdWorkspace | undefined;
  for (const other of all) {
    if (other.metadata?.name === workspace.metadata?.name || birdIdentity(other) !== identity) continue;
    if (olderThan(other, workspace) && (!first || olderThan(other, first))) first = other;
  }
  return first;
}

function birdIdentity(workspace: BirdWorkspace): string {
  const endpoint = (workspace.spec.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, "").toLowerCase();
  return JSON.stringify([endpoint, workspace.spec.organizationId.toLowerCase(), workspace.spec.workspaceId.toLowerCase()]);
}

/** Older first: creationTimestamp, then name, so that equal timestamps still have one winner. */
function olderThan(a: BirdWorkspace, b: BirdWorkspace): boolean {
  const at = Date.parse(String(a.metadata?.creationTimestamp ?? ""));
  const bt = Date.parse(String(b.metadata?.creationTimestamp ?? ""));
  if (at !== bt && !Number.isNaN(at) && !Number.isNaN(bt)) return at < bt;
  return (a.metadata?.name ?? "") < (b.metadata?.name ?? "");
}
