import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { BirdApi } from "../../src/bird/client.js";
import { StockPool } from "../../src/workspace/stock-pool.js";
import type { NumberStockItem } from "../../src/bird/types.js";

function item(n: number, amount = 1_000_000): NumberStockItem {
  return {
    id: `id-${n}`,
    countryCode: "US",
    type: "local",
    numberString: `+1212555${String(n).padStart(4, "0")}`,
    capabilities: {},
    monthlyPrice: { currencyCode: "EUR", amount, exponent: -6 },
  };
}

/** A BirdApi that only answers stock searches, counting them. */
function fakeBird(pages: NumberStockItem[][]): { bird: BirdApi; searches: () => number } {
  let searches = 0;
  const bird = {
    searchStock: async () => ({ results: [...(pages[Math.min(searches++, pages.length - 1)] ?? [])] }),
  } as unknown as BirdApi;
  return { bird, searches: () => searches };
}

describe("StockPool", () => {
  it("serves many purchases from one search and never hands out an item twice", async () => {
    const { bird, searches } = fakeBird([Array.from({ length: 99 }, (_, i) => item(i))]);
    const pool = new StockPool(bird);
    const taken = await Promise.all(Array.from({ length: 50 }, () => pool.take({ countryCodes: ["US"] }, () => true)));
    expect(new Set(taken.map((t) => t?.id)).size).toBe(50);
    expect(searches()).toBe(1);
  });

  it(
    "searches again when nothing in the pool is acceptable, " + "and answers undefined when the fresh page has none",
    async () => {
      const { bird, searches } = fakeBird([[item(1, 9_000_000)], [item(2, 9_000_000)]]);
      const pool = new StockPool(bird);
      expect(await pool.take({}, (i) => i.monthlyPrice.amount < 5_000_000)).toBeUndefined();
      expect(searches()).toBe(1);
    },
  );

  it("refreshes a pool older than its maximum age", async () => {
    let now = 0;
    const { bird, searches } = fakeBird([[item(1), item(2)], [item(3)]]);
    const pool = new StockPool(bird, { maxAgeMs: 1000, now: () => now });
    expect((await pool.take({}, () => true))?.id).toBe("id-1");
    now = 5000;
    expect((await pool.take({}, () => true))?.id).toBe("id-3");
    expect(searches()).toBe(2);
  });
});

describe("StockPool waits", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it(
    "serves every waiter of a filter with one search a poll, " + "and wakes them in order, one per item found",
    async () => {
      const { bird, searches } = fakeBird([[], [], [item(1), item(2)]]);
      const pool = new StockPool(bird, { pollMs: 1000 });
      const woken: string[] = [];
      for (const key of ["a", "b", "c"])
        pool.waitFor(
          { countryCodes: ["US"] },
          key,
          () => true,
          () => woken.push(key),
        );
      await vi.advanceTimersByTimeAsync(2000);
      expect([searches(), woken]).toEqual([2, []]);
      await vi.advanceTimersByTimeAsync(1000);
      expect([searches(), woken]).toEqual([3, ["a", "b"]]);
      expect(pool.waiting()).toEqual({ filters: 1, waiters: 1 });
      // What the search found is in the pool for the woken: no search of their own.
      expect((await pool.take({ countryCodes: ["US"] }, () => true))?.id).toBe("id-1");
      expect(searches()).toBe(3);
    },
  );

  it("wakes a waiter only for an item it would take", async () => {
    const { bird } = fakeBird([[item(1, 9_000_000)]]);
    const pool = new StockPool(bird, { pollMs: 1000 });
    const woken: string[] = [];
    pool.waitFor(
      {},
      "cheap",
      (i) => i.monthlyPrice.amount < 5_000_000,
      () => woken.push("cheap"),
    );
    pool.waitFor(
      {},
      "any",
      () => true,
      () => woken.push("any"),
    );
    await vi.advanceTimersByTimeAsync(1000);
    expect(woken).toEqual(["any"]);
  });

  it.each([
    {
      reason: "cancelled: its filter stops being searched",
      end: (pool: StockPool): void => pool.cancelWait("k"),
      waiting: 0,
      searches: 0,
    },
    {
      reason: "waiting again for another filter replaces the first wait",
      end: (pool: StockPool): void =>
        pool.waitFor(
          { countryCodes: ["NL"] },
          "k",
          () => true,
          () => undefined,
        ),
      waiting: 1,
      searches: 3,
    },
    {
      reason: "closed with the connection: every wait ends",
      end: (pool: StockPool): void => pool.close(),
      waiting: 0,
      searches: 0,
    },
  ])("$reason", async ({ end, waiting, searches: expected }) => {
    const { bird, searches } = fakeBird([[]]);
    const pool = new StockPool(bird, { pollMs: 1000 });
    pool.waitFor(
      { countryCodes: ["US"] },
      "k",
      () => true,
      () => undefined,
    );
    end(pool);
    await vi.advanceTimersByTimeAsync(3000);
    expect(pool.waiting()).toEqual({ filters: waiting, waiters: waiting });
    expect(searches()).toBe(expected);
  });

  it("drops a wait after maxWaitMs, so the waits of deleted resources do not pile up", async () => {
    const { bird, searches } = fakeBird([[]]);
    const pool = new StockPool(bird, { pollMs: 1000, maxWaitMs: 2500 });
    pool.waitFor(
      {},
      "gone",
      () => true,
      () => undefined,
    );
    await vi.advanceTimersByTimeAsync(10_000);
    expect(pool.waiting()).toEqual({ filters: 0, waiters: 0 });
    expect(searches()).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("reports a failed search and keeps polling", async () => {
    let calls = 0;
    const bird = {
      searchStock: async () => {
        if (++calls === 1) throw new Error("Bird is down");
        return { results: [item(1)] };
      },
    } as unknown as BirdApi;
    const errors: unknown[] = [];
    const woken: string[] = [];
    const pool = new StockPool(bird, { pollMs: 1000, onError: (error) => errors.push(error) });
    pool.waitFor(
      {},
      "k",
      () => true,
      () => woken.push("k"),
    );
    await vi.advanceTimersByTimeAsync(2000);
    expect(errors).toEqual([new Error("Bird is down")]);
    expect(woken).toEqual(["k"]);
  });

  it("keeps at most maxPools pools, dropping the least recently used", async () => {
    const { bird, searches } = fakeBird([[item(1), item(2)]]);
    const pool = new StockPool(bird, { maxPools: 2 });
    await pool.take({ countryCodes: ["A"] }, () => true);
    await pool.take({ countryCodes: ["B"] }, () => true);
    await pool.take({ countryCodes: ["A"] }, () => true);
    await pool.take({ countryCodes: ["C"] }, () => true);
    expect(searches()).toBe(3);
    // B was the least recently used and went; A is still pooled.
    await pool.take({ countryCodes: ["B"] }, () => true);
    expect(searches()).toBe(4);
  });

  it("drops pools nobody used for maxAgeMs: their pages would be searched again before any use", async () => {
    let now = 0;
    const { bird, searches } = fakeBird([Array.from({ length: 99 }, (_, i) => item(i))]);
    const pool = new StockPool(bird, { maxAgeMs: 1000, now: () => now });
    for (const country of ["A", "B", "C"]) await pool.take({ countryCodes: [country] }, () => true);
    now = 800;
    await pool.take({ countryCodes: ["A"] }, () => true);
    expect(pool.size).toBe(3);
    now = 1500;
    // B and C were last used at 0: gone; A (used at 800) stays.
    await pool.take({ countryCodes: ["D"] }, () => true);
    expect(pool.size).toBe(2);
    expect(searches()).toBe(4);
  });
});
