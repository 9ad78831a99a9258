import type { BirdApi } from "./client.js";
import type { NumberStockItem, StockFilter } from "./types.js";

interface Pool {
  items: NumberStockItem[];
  fetchedAt: number;
  flight?: Promise<void>;
}

/**
 * Stock searches shared by all purchases of a workspace: one page of 99 items per filter serves up to 99 purchases
 * instead of one search each. An item is handed out once; a pool older than `maxAgeMs` or emptied is searched again.
 * Stock can change under us either way (a sold item answers 422 and the purchase picks another).
 */
export class StockPool {
  private readonly pools = new Map<string, Pool>();
  /** Which pool handed out an item, for as long as the item is held by anyone (see `refused`). */
  private readonly origins = new WeakMap<object, string>();

  constructor(
    private readonly bird: BirdApi,
    private readonly maxAgeMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The first pooled item `accept` takes, removed from the pool; undefined when the fresh pool has none. */
  async take(filter: StockFilter, accept: (item: NumberStockItem) => boolean): Promise<NumberStockItem | undefined> {
    const key = JSON.stringify(filter);
    let pool = this.pools.get(key);
    if (!pool || this.now() - pool.fetchedAt > this.maxAgeMs || !pool.items.some(accept)) {
      pool = await this.refill(key, filter);
    }
    const index = pool.items.findIndex(accept);
    if (index < 0) return undefined;
    const [item] = pool.items.splice(index, 1);
    if (item) this.origins.set(item, key);
    return item;
  }

  /** Bird refused an item this pool handed out: the rest of that page is as old, so the next take searches again. */
  refused(item: object): void {
    const key = this.origins.get(item);
    if (key !== undefined) this.pools.delete(key);
  }

  private async refill(key: string, filter: StockFilter): Promise<Pool> {
    const existing = this.pools.get(key);
    if (existing?.flight) {
      await existing.flight;
      return existing;
    }
    const pool: Pool = existing ?? { items: [], fetchedAt: Number.NEGATIVE_INFINITY };
    this.pools.set(key, pool);
    pool.flight = this.bird.searchStock(filter, { limit: 99 }).then((page) => {
      pool.items = page.results;
      pool.fetchedAt = this.now();
    });
    try {
      await pool.flight;
    } finally {
      pool.flight = undefined;
    }
    return pool;
  }
}
