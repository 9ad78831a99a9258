import { describe, expect, it } from "vitest";
import type { BirdApi } from "../../src/bird/client.js";
import { StockPool } from "../../src/bird/stock-pool.js";
import type { NumberStockItem } from "../../src/bird/types.js";

function item(n: number, amount = 1_000_000): NumberStockItem {
  return { id: `id-${n}`, countryCode: "US", type: "local", numberString: `+1212555${String(n).padStart(4, "0")}`, capabilities: {}, monthlyPrice: { currencyCode: "EUR", amount, exponent: -6 } };
}

/** A BirdApi that only answers stock searches, counting them. */
function fakeBird(pages: NumberStockItem[][]): { bird: BirdApi; searches: () => number } {
  let searches = 0;
  const bird = {
    searchStock: async () => ({ results: pages[Math.min(searches++, pages.length - 1)] ?? [] }),
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

  it("searches again when nothing in the pool is acceptable, and answers undefined when the fresh page has none", async () => {
    const { bird, searches } = fakeBird([[item(1, 9_000_000)], [item(2, 9_000_000)]]);
    const pool = new StockPool(bird);
    expect(await pool.take({}, (i) => i.monthlyPrice.amount < 5_000_000)).toBeUndefined();
    expect(searches()).toBe(1);
  });

  it("refreshes a pool older than its maximum age", async () => {
    let now = 0;
    const { bird, searches } = fakeBird([[item(1), item(2)], [item(3)]]);
    const pool = new StockPool(bird, 1000, () => now);
    expect((await pool.take({}, () => true))?.id).toBe("id-1");
    now = 5000;
    expect((await pool.take({}, () => true))?.id).toBe("id-3");
    expect(searches()).toBe(2);
  });
});
