import type { V1Secret } from "@kubernetes/client-node";
import { type BirdWorkspace } from "../api/v1alpha1/index.js";
import { Reason, READY } from "../api/v1alpha1/conditions.js";
import { createBirdClient, type BirdClient } from "../bird/client.js";
import { BuyBatcher } from "./buy-batcher.js";
import { Inventory } from "./inventory.js";
import { StockPool } from "./stock-pool.js";
import type { Logger } from "../log.js";
import type { Informer } from "../runtime/informer.js";
import { errorMessage } from "../runtime/errors.js";
import type { Metrics } from "../runtime/metrics.js";
import { findCondition } from "../runtime/status.js";
import { metricsObserver } from "../runtime/bird-metrics.js";

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

/** A connection and the spec it was made for: which Bird (endpoint and ids), and at what rate. */
interface Entry {
  target: string;
  rateLimits: string;
  connection: WorkspaceConnection;
}

/**
 * One connection per BirdWorkspace. New rate limits apply to the client in place; a new endpoint or new ids bring a
 * new client, inventory and stock pool, but never lose the purchases in flight: the ledger and the buy batcher stay
 * (the batcher sends through whichever client is current). A deleted workspace's connection is closed and forgotten.
 * The AccessKey is read from the Secret cache on every request, so a rotated key is used at once, and it is never
 * copied anywhere else.
 */
export class WorkspaceConnections {
  private readonly connections = new Map<string, Entry>();

  constructor(private readonly options: ConnectionOptions) {
    options.workspaces.on((type, workspace) => {
      if (type === "delete") this.forget(workspace.metadata?.name ?? "");
    });
  }

  /** The workspace's AccessKey, or why it cannot be read. Never logged, never put in a message. */
  accessKey(workspace: BirdWorkspace): Resolution<string> {
    const ref = workspace.spec.accessKeySecretRef;
    const key = ref.key ?? DEFAULT_SECRET_KEY;
    if (ref.namespace !== this.options.operatorNamespace) {
      return {
        ok: false,
        reason: Reason.SecretNotFound,
        message:
          `the operator reads AccessKey Secrets only in its namespace "${this.options.operatorNamespace}"; ` +
          `move Secret ${ref.namespace}/${ref.name} there and update spec.accessKeySecretRef.namespace`,
      };
    }
    const secret = this.options.secrets.get(`${ref.namespace}/${ref.name}`);
    if (!secret) {
      return {
        ok: false,
        reason: Reason.SecretNotFound,
        message:
          `Secret ${ref.namespace}/${ref.name} not found: ` +
          `create it with the workspace's AccessKey under the key "${key}"`,
      };
    }
    const encoded = secret.data?.[key];
    const value = encoded ? Buffer.from(encoded, "base64").toString("utf8").trim() : secret.stringData?.[key]?.trim();
    if (!value) {
      return {
        ok: false,
        reason: Reason.KeyNotFound,
        message: `Secret ${ref.namespace}/${ref.name} has no non-empty key "${key}"`,
      };
    }
    return { ok: true, value };
  }

  /** A connection for a workspace by name, without calling Bird. */
  connect(name: string): Resolution<WorkspaceConnection> {
    const workspace = this.options.workspaces.get(name);
    if (!workspace) {
      return {
        ok: false,
        reason: Reason.WorkspaceNotFound,
        message: `BirdWorkspace "${name}" not found: create it, or fix spec.workspaceRef.name`,
      };
    }
    const key = this.accessKey(workspace);
    if (!key.ok) return key;
    const target = JSON.stringify([workspace.spec.endpoint, workspace.spec.organizationId, workspace.spec.workspaceId]);
    const rateLimits = JSON.stringify(workspace.spec.rateLimits ?? {});
    const cached = this.connections.get(name);
    if (!cached) {
      const connection = this.build(workspace);
      this.connections.set(name, { target, rateLimits, connection });
      return { ok: true, value: connection };
    }
    const { connection } = cached;
    connection.workspace = workspace;
    if (cached.target !== target) this.retarget(connection, workspace);
    else if (cached.rateLimits !== rateLimits) connection.client.setRateLimits(workspace.spec.rateLimits);
    Object.assign(cached, { target, rateLimits });
    return { ok: true, value: connection };
  }

  /** A connection to a workspace that is Ready (and not a duplicate), for use by number and sender reconcilers. */
  connectReady(name: string): Resolution<WorkspaceConnection> {
    const connection = this.connect(name);
    if (!connection.ok) return connection;
    const usable = workspaceUsable(connection.value.workspace, this.options.workspaces.list());
    return usable.ok ? connection : usable;
  }

  /**
   * After a restart: once the workspace and Secret caches are synced, lists the numbers of every workspace
   * that was last seen Ready, in the background, while the (much bigger) resource caches are still being listed. The
   * reconciles then find the inventory listed, or being listed, instead of starting the list themselves.
   */
  async warmUp(): Promise<void> {
    await Promise.all([this.options.workspaces.waitForSync(), this.options.secrets.waitForSync()]);
    const all = this.options.workspaces.list();
    for (const workspace of all) {
      const name = workspace.metadata?.name ?? "";
      if (!workspaceUsable(workspace, all).ok) continue;
      const connection = this.connect(name);
      if (!connection.ok) continue;
      const report = this.backgroundErrorReporter(name);
      // Numbers only: senders are few, and listed when an AlphaSender first asks (a workspace without any costs none).
      connection.value.inventory.refresh().catch((error: unknown) => report("inventory-refresh", error));
    }
  }

  /** The workspace was deleted: its polls stop, its waiters are handed back, its share of the rate limiter goes. */
  private forget(name: string): void {
    const entry = this.connections.get(name);
    if (!entry) return;
    this.connections.delete(name);
    closeBirdSide(entry.connection);
  }

  private build(workspace: BirdWorkspace): WorkspaceConnection {
    const birdSide = this.birdSide(workspace);
    const connection: WorkspaceConnection = {
      workspace,
      ...birdSide,
      // Through the connection, not this client: a retargeted connection sends queued purchases with its new client.
      buyer: new BuyBatcher((ids, options) => connection.client.buyNumbers(ids, options), {
        onRefused: (item) => connection.stockPool.refused(item),
      }),
    };
    return connection;
  }

  /** Another Bird (endpoint or ids): what belongs to the old one goes; purchases in flight stay with the connection. */
  private retarget(connection: WorkspaceConnection, workspace: BirdWorkspace): void {
    const old = { client: connection.client, inventory: connection.inventory, stockPool: connection.stockPool };
    Object.assign(connection, this.birdSide(workspace));
    closeBirdSide(old);
  }

  /**
   * What talks to one Bird workspace: the client (and its share of the rate limiter), the inventory, the stock pool.
   */
  private birdSide(workspace: BirdWorkspace): Pick<WorkspaceConnection, "client" | "inventory" | "stockPool"> {
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
    const report = this.backgroundErrorReporter(name);
    return {
      client,
      inventory: new Inventory(client, this.options.inventoryMaxAgeMs, Date.now, { onError: report }),
      stockPool: new StockPool(client, { onError: (error) => report("stock-search", error) }),
    };
  }

  /**
   * Background work nobody awaits must not fail in silence: a warning and a count per task, retried at its next poll.
   */
  private backgroundErrorReporter(workspace: string): (task: string, error: unknown) => void {
    return (task, error) => {
      this.options.logger.warn(
        { workspace, task, err: errorMessage(error) },
        "Background Bird call failed; retrying at the next poll",
      );
      this.options.metrics?.backgroundErrors.inc({ task });
    };
  }
}

function closeBirdSide(side: Pick<WorkspaceConnection, "client" | "inventory" | "stockPool">): void {
  side.inventory.close();
  side.stockPool.close();
  side.client.close();
}

/**
 * Whether resources may use the workspace: not a duplicate of an older one (`all` are the workspaces to compare with),
 * not being deleted, and Ready. Exported for `bird-operator plan`, which reads the same facts from the API server.
 */
export function workspaceUsable(workspace: BirdWorkspace, all: readonly BirdWorkspace[]): Resolution<true> {
  const name = workspace.metadata?.name ?? "";
  const first = duplicateOf(workspace, all);
  if (first) {
    return {
      ok: false,
      reason: Reason.DuplicateWorkspace,
      message:
        `BirdWorkspace "${name}" names the same Bird workspace as "${first.metadata?.name}", ` +
        `which was there first: use "${first.metadata?.name}"`,
    };
  }
  if (workspace.metadata?.deletionTimestamp) {
    return {
      ok: false,
      reason: Reason.WorkspaceNotReady,
      message: `BirdWorkspace "${name}" is being deleted: nothing new is claimed or bought through it`,
    };
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
  return JSON.stringify([
    endpoint,
    workspace.spec.organizationId.toLowerCase(),
    workspace.spec.workspaceId.toLowerCase(),
  ]);
}

/** Older first: creationTimestamp, then name, so that equal timestamps still have one winner. */
function olderThan(a: BirdWorkspace, b: BirdWorkspace): boolean {
  const at = Date.parse(String(a.metadata?.creationTimestamp ?? ""));
  const bt = Date.parse(String(b.metadata?.creationTimestamp ?? ""));
  if (at !== bt && !Number.isNaN(at) && !Number.isNaN(bt)) return at < bt;
  return (a.metadata?.name ?? "") < (b.metadata?.name ?? "");
}
