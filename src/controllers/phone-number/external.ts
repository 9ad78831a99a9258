import type { BirdWorkspace } from "../../api/v1alpha1/index.js";
import type { BuyGuard, StockItemRef } from "../../workspace/buy-batcher.js";
import type { BirdApi } from "../../bird/client.js";
import { isBirdApiError } from "../../bird/errors.js";
import type { StockPool } from "../../workspace/stock-pool.js";
import type { SendGuard } from "../../bird/types.js";
import type {
  ActivateDestinationsResult,
  EndpointSubscription,
  LongCodeNumber,
  NumberStockItem,
  StockFilter,
} from "../../bird/types.js";
import type { UsageSource } from "../../ownership/usage.js";
import type { WorkspaceConnection } from "../../workspace/connections.js";
import { lookupNumber } from "../../workspace/lookup.js";

/** Bird's stock as a purchase sees it: the workspace's shared pool first, then a paged search. */
export interface StockSource {
  readonly workspace: BirdWorkspace;
  /** An item of the shared pool that `accept` takes, removed from the pool; undefined when none fits. */
  pooledStock(filter: StockFilter, accept: (item: NumberStockItem) => boolean): Promise<NumberStockItem | undefined>;
  /** Bird's stock for the filter, page after page (up to 500 items). */
  searchStock(filter: StockFilter): AsyncIterable<NumberStockItem>;
}

/**
 * Which number to observe: by id (the shared inventory, else
 * a read), or by string (the inventory, or listed afresh: `uncached`).
 */
export type NumberRef = { id: string } | { numberString: string; uncached?: boolean };

/**
 * One workspace's numbers as the PhoneNumber reconciler sees them: Crossplane's external client, split the same way.
 * Observations read (the shared inventory answers first) and never write to Bird; buy creates, activate and
 * deactivate update the destinations, cancel deletes. These are all the Bird calls a PhoneNumber makes, so the
 * reconciler can be tested against a fake that records them.
 */
export interface NumberExternal extends StockSource, UsageSource {
  readonly workspace: BirdWorkspace;
  /** The number as Bird has it; undefined when it is not in the workspace. */
  observe(ref: NumberRef): Promise<LongCodeNumber | undefined>;
  /**
   * Whether the number's destination counts are Bird's (no write
   * of ours since the last read): drift is judged only then.
   */
  countsCurrent(id: string): boolean;
  /** The `main` subscription's dates and price (a background GET: off the path to Ready). */
  observeSubscription(number: LongCodeNumber): Promise<EndpointSubscription>;
  /** Lists the workspace's numbers if the shared list is old: what a quota check counts. */
  refresh(): Promise<void>;
  /** Calls `wake` once the number is seen provisioned (one poller per workspace). */
  awaitProvisioned(id: string, pollMs: number, wake: () => void): void;

  /** Buys the stock item (batched per workspace); `guard` runs right before the call leaves. */
  buy(item: StockItemRef, guard: BuyGuard): Promise<LongCodeNumber | undefined>;

  /**
   * The writes on a number the resource holds take a `guard`, asked right before each attempt leaves: its error stops
   * the call unsent (the record no longer names the resource, or this replica may no longer act).
   */
  activate(
    number: LongCodeNumber,
    capability: string,
    countries: string[],
    guard?: SendGuard,
  ): Promise<ActivateDestinationsResult>;
  deactivate(number: LongCodeNumber, capability: string, countries: string[], guard?: SendGuard): Promise<void>;
  /** Our writes changed the number: its cached destination counts are stale until the next read. */
  markChanged(id: string): void;

  /** Cancels `main`; undefined when there was none to cancel (not found). The number leaves the inventory. */
  cancel(number: { id?: string; endpointId: string }, guard?: SendGuard): Promise<EndpointSubscription | undefined>;
}

/** How a reconciler gets the external client of a workspace; injected so tests can hand in a fake. */
export type NumberExternalFactory = (connection: WorkspaceConnection) => NumberExternal;

/** The stock of a workspace connection (shared with `bird-operator plan`, which picks as the operator would). */
export function stockSource(connection: {
  workspace: BirdWorkspace;
  client: Pick<BirdApi, "stockItems">;
  stockPool: Pick<StockPool, "take">;
}): StockSource {
  return {
    workspace: connection.workspace,
    pooledStock: (filter, accept) => connection.stockPool.take(filter, accept),
    searchStock: (filter) => connection.client.stockItems(filter, { limit: 99, max: 500 }),
  };
}

/**
 * The real one: Bird through the workspace's connection (read at each call: a retargeted connection swaps its client).
 */
export const birdNumbers: NumberExternalFactory = (connection) => new BirdNumberExternal(connection);

class BirdNumberExternal implements NumberExternal {
  constructor(private readonly connection: WorkspaceConnection) {}

  get workspace(): BirdWorkspace {
    return this.connection.workspace;
  }

  get inventory(): UsageSource["inventory"] {
    return this.connection.inventory;
  }

  pooledStock(filter: StockFilter, accept: (item: NumberStockItem) => boolean): Promise<NumberStockItem | undefined> {
    return stockSource(this.connection).pooledStock(filter, accept);
  }

  searchStock(filter: StockFilter): AsyncIterable<NumberStockItem> {
    return stockSource(this.connection).searchStock(filter);
  }

  observe(ref: NumberRef): Promise<LongCodeNumber | undefined> {
    const { inventory } = this.connection;
    if ("id" in ref) return inventory.findNumber(ref.id);
    return ref.uncached ? lookupNumber(this.connection, ref.numberString) : inventory.numberByString(ref.numberString);
  }

  countsCurrent(id: string): boolean {
    return this.connection.inventory.isCurrent(id);
  }

  observeSubscription(number: LongCodeNumber): Promise<EndpointSubscription> {
    return this.connection.client.getSubscription(number.endpointId, "main", { background: true });
  }

  refresh(): Promise<void> {
    return this.connection.inventory.refresh();
  }

  awaitProvisioned(id: string, pollMs: number, wake: () => void): void {
    this.connection.inventory.awaitProvisioned(id, pollMs, wake);
  }

  async buy(item: StockItemRef, guard: BuyGuard): Promise<LongCodeNumber | undefined> {
    const number = await this.connection.buyer.buy(item, guard);
    if (number) this.connection.inventory.putNumber(number);
    return number;
  }

  activate(
    number: LongCodeNumber,
    capability: string,
    countries: string[],
    guard?: SendGuard,
  ): Promise<ActivateDestinationsResult> {
    return this.connection.client.activateDestinations(number.endpointId, capability, countries, { guard });
  }

  async deactivate(number: LongCodeNumber, capability: string, countries: string[], guard?: SendGuard): Promise<void> {
    await this.connection.client.deactivateDestinations(number.endpointId, capability, countries, { guard });
  }

  markChanged(id: string): void {
    this.connection.inventory.markChanged(id);
  }

  async cancel(
    number: { id?: string; endpointId: string },
    guard?: SendGuard,
  ): Promise<EndpointSubscription | undefined> {
    let cancelled: EndpointSubscription | undefined;
    try {
      cancelled = await this.connection.client.cancelSubscription(number.endpointId, "main", { guard });
    } catch (error) {
      // Not found, or an id no Bird endpoint can have (RangeError): there is no subscription to cancel.
      if (!((isBirdApiError(error) && error.kind === "not-found") || error instanceof RangeError)) throw error;
    }
    if (number.id) this.connection.inventory.forgetNumber(number.id);
    return cancelled;
  }
}
