import type { BirdApi } from "../bird/client.js";
import type { NumberStockItem, StockFilter } from "../bird/types.js";

interface Pool {
  items: NumberStockItem[];
  fetchedAt: number;
  /** When a take or a search last used it: a pool unused for `maxAgeMs` is dropped (see `remember`). */
  usedAt: number;
  flight?: Promise<void>;
}

interface Waiter {
  accept: (item: NumberStockItem) => boolean;
  onStock: () => void;
  since: number;
}

/** Everyone waiting for one filter, served by one periodic search. */
interface WaitGroup {
  filter: StockFilter;
  waiters: Map<string, Waiter>;
  timer?: NodeJS.Timeout;
}

export interface StockPoolOptions {
  /** A pool older than this is searched again before an item is handed out; default 30 s. */
  maxAgeMs?: number;
  /** How often a filter that someone waits for is searched; default 30 s. */
  pollMs?: number;
  /** A wait is dropped after this long, whoever registered it (its owner's own requeue stands); default 10 min. */
  maxWaitMs?: number;
  /** Pools kept at most; the least recently used goes first; default 256. Pools unused for `maxAgeMs` go too. */
  maxPools?: number;
  /** A background search failed: reported here (logged and counted), then retried at the next poll. */
  onError?: (error: unknown) => void;
  now?: () => number;
}

/**
 * Stock searches shared by all purchases of a workspace: one page of 99 items per filter serves up to 99 purchases
 * instead of one search each. An item is handed out once; a pool older than `maxAgeMs` or emptied is searched again.
 * Stock can change under us either way (Bird refuses a sold item, `refused` drops its pool, the purchase picks
 * another). Resources that found no stock wait with `waitFor`: one periodic search per filter serves them all.
 */
export class StockPool {
  private readonly pools = new Map<string, Pool>();
  /** Which pool handed out an item, for as long as the item is held by anyone (see `refused`). */
  private readonly origins = new WeakMap<object, string>();
  private readonly waits = new Map<string, WaitGroup>();
  /** The filter each waiting key waits for, so a key waits for one filter at a time. */
  private readonly waitingKeys = new Map<string, string>();
  private readonly maxAgeMs: number;
  private readonly pollMs: number;
  private readonly maxWaitMs: number;
  private readonly maxPools: number;
  private readonly now: () => number;

  constructor(
    private readonly bird: BirdApi,
    private readonly options: StockPoolOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 30_000;
    this.pollMs = options.pollMs ?? 30_000;
    this.maxWaitMs = options.maxWaitMs ?? 600_000;
    this.maxPools = options.maxPools ?? 256;
    this.now = options.now ?? Date.now;
  }

  /** The first pooled item `accept` takes, removed from the pool; undefined when the fresh pool has none. */
  async take(filter: StockFilter, accept: (item: NumberStockItem) => boolean): Promise<NumberStockItem | undefined> {
    const key = JSON.stringify(filter);
    let pool = this.pools.get(key);
    if (!pool || this.now() - pool.fetchedAt > this.maxAgeMs || !pool.items.some(accept)) {
      pool = await this.refill(key, filter);
    } else {
      this.remember(key, pool);
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

  /**
   * Calls `onStock` once a search for `filter` finds an item `accept` takes, so that a resource waiting for stock
   * neither searches on its own nor polls: whoever waits for the same filter shares one search every `pollMs`, and
   * what it finds fills the pool for the woken to take. As many waiters are woken, in arrival order, as the search
   * found items for. `key` names the waiter: waiting again replaces its earlier wait.
   */
  waitFor(filter: StockFilter, key: string, accept: (item: NumberStockItem) => boolean, onStock: () => void): void {
    this.cancelWait(key);
    const filterKey = JSON.stringify(filter);
    let group = this.waits.get(filterKey);
    if (!group) {
      group = { filter, waiters: new Map() };
      this.waits.set(filterKey, group);
    }
    group.waiters.set(key, { accept, onStock, since: this.now() });
    this.waitingKeys.set(key, filterKey);
    this.schedulePoll(filterKey, group);
  }

  /** The waiter needs stock no more (it was deleted, or bought otherwise). */
  cancelWait(key: string): void {
    const filterKey = this.waitingKeys.get(key);
    if (filterKey === undefined) return;
    this.waitingKeys.delete(key);
    const group = this.waits.get(filterKey);
    group?.waiters.delete(key);
    if (group && group.waiters.size === 0) this.endGroup(filterKey, group);
  }

  /** Every wait ends, its timer with it (the workspace is gone or its connection was replaced). */
  close(): void {
    for (const [filterKey, group] of this.waits) this.endGroup(filterKey, group);
    this.waitingKeys.clear();
  }

  private endGroup(filterKey: string, group: WaitGroup): void {
    clearTimeout(group.timer);
    if (this.waits.get(filterKey) === group) this.waits.delete(filterKey);
  }

  private schedulePoll(filterKey: string, group: WaitGroup): void {
    if (group.timer) return;
    group.timer = setTimeout(() => {
      group.timer = undefined;
      void this.poll(filterKey, group);
    }, this.pollMs);
    group.timer.unref();
  }

  private async poll(filterKey: string, group: WaitGroup): Promise<void> {
    this.expireWaits(filterKey, group);
    if (group.waiters.size === 0) return;
    try {
      const pool = await this.refill(filterKey, group.filter);
      this.wake(group, pool);
    } catch (error) {
      this.options.onError?.(error);
    }
    if (group.waiters.size === 0) this.endGroup(filterKey, group);
    else if (this.waits.get(filterKey) === group) this.schedulePoll(filterKey, group);
  }

  /** Filters searched periodically for someone waiting, and how many wait: what the waiting costs. */
  waiting(): { filters: number; waiters: number } {
    return { filters: this.waits.size, waiters: this.waitingKeys.size };
  }

  private expireWaits(filterKey: string, group: WaitGroup): void {
    const oldest = this.now() - this.maxWaitMs;
    for (const [key, waiter] of group.waiters) {
      if (waiter.since > oldest) continue;
      group.waiters.delete(key);
      this.waitingKeys.delete(key);
    }
    if (group.waiters.size === 0) this.endGroup(filterKey, group);
  }

  /** Wakes waiters in arrival order while the pool holds an item each of them would take, one item per waiter. */
  private wake(group: WaitGroup, pool: Pool): void {
    const promised = new Set<NumberStockItem>();
    for (const [key, waiter] of group.waiters) {
      const item = pool.items.find((candidate) => !promised.has(candidate) && waiter.accept(candidate));
      if (!item) continue;
      promised.add(item);
      group.waiters.delete(key);
      this.waitingKeys.delete(key);
      try {
        waiter.onStock();
      } catch (error) {
        this.options.onError?.(error);
      }
    }
  }

  private async refill(key: string, filter: StockFilter): Promise<Pool> {
    const existing = this.pools.get(key);
    if (existing?.flight) {
      await existing.flight;
      return existing;
    }
    const pool: Pool = existing ?? { items: [], fetchedAt: Number.NEGATIVE_INFINITY, usedAt: this.now() };
    this.remember(key, pool);
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

  /** Pools held now (each up to a page of 99 items). */
  get size(): number {
    return this.pools.size;
  }

  /**
   * Keeps the pool as the most recently used, and the number of pools bounded (filters come from specs): beyond
   * `maxPools`, and any pool unused for `maxAgeMs`, whose items the next take would search again anyway.
   */
  private remember(key: string, pool: Pool): void {
    pool.usedAt = this.now();
    this.pools.delete(key);
    this.pools.set(key, pool);
    const unusedSince = pool.usedAt - this.maxAgeMs;
    for (const [oldest, candidate] of this.pools) {
      if (this.pools.size <= this.maxPools && candidate.usedAt >= unusedSince) break;
      if (!candidate.flight) this.pools.delete(oldest);
    }
  }
}
