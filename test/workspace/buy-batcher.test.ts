import { afterEach, describe, expect, it } from "vitest";
import {
  BirdApiError,
  createBirdClient,
  type BirdClient,
  type BuyOptions,
  type LongCodeNumber,
  type NumberStockItem,
} from "../../src/bird/index.js";
import { BuyBatcher, StockItemRefused } from "../../src/workspace/buy-batcher.js";
import { StockPool } from "../../src/workspace/stock-pool.js";
import {
  DEFAULT_ACCESS_KEY,
  DEFAULT_ORGANIZATION_ID,
  DEFAULT_WORKSPACE_ID,
  startSimulator,
  type RunningSimulator,
} from "../../src/simulator/index.js";

const item = (i: number): { id: string; numberString: string } => ({
  id: `item-${i}`,
  numberString: `+3197000000${String(i).padStart(3, "0")}`,
});
const numberFor = (id: string): LongCodeNumber =>
  ({ id: `number-${id}`, numberString: item(Number(id.slice(5))).numberString }) as LongCodeNumber;

/**
 * A buy function that records each call's ids and answers after a turn of the event loop, or as `answer` says. Like
 * the client's transport, it asks the guard right before sending and records nothing the guard stopped.
 */
function recordingBuy(answer?: (ids: string[], call: number) => LongCodeNumber[] | Error): {
  buy: (ids: string[], options: BuyOptions) => Promise<LongCodeNumber[]>;
  calls: string[][];
} {
  const calls: string[][] = [];
  const buy = async (ids: string[], options: BuyOptions): Promise<LongCodeNumber[]> => {
    const refusal = options.guard?.();
    if (refusal) throw refusal;
    calls.push(ids);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const result = answer ? answer(ids, calls.length) : ids.map(numberFor);
    if (result instanceof Error) throw result;
    return result;
  };
  return { buy, calls };
}

/** A 422 to a buy: Bird's documented "validation error", naming items only when `ids` are given (our assumption). */
const unavailable = (ids?: string[]): BirdApiError =>
  new BirdApiError({
    method: "POST",
    route: "/workspaces/{workspaceId}/numbers-long-code",
    status: 422,
    code: ids ? "stock-item-unavailable" : "validation-error",
    details: ids ? { numberStockItemIds: ids } : undefined,
  });

describe("BuyBatcher", () => {
  it(
    "sends purchases asked for in the same turn in one call, " + "at most 25 items a call, each getting its own number",
    async () => {
      const { buy, calls } = recordingBuy();
      const batcher = new BuyBatcher(buy);
      const numbers = await Promise.all(Array.from({ length: 60 }, (_, i) => batcher.buy(item(i))));
      expect(calls.map((c) => c.length)).toEqual([25, 25, 10]);
      expect(numbers.map((n) => n?.numberString)).toEqual(Array.from({ length: 60 }, (_, i) => item(i).numberString));
    },
  );

  it("keeps at most maxInFlight calls going; purchases asked for meanwhile share the next call", async () => {
    const { buy, calls } = recordingBuy();
    const batcher = new BuyBatcher(buy, { maxInFlight: 1 });
    const first = batcher.buy(item(0));
    await new Promise((resolve) => setImmediate(resolve));
    const rest = Array.from({ length: 5 }, (_, i) => batcher.buy(item(i + 1)));
    await Promise.all([first, ...rest]);
    expect(calls).toEqual([["item-0"], ["item-1", "item-2", "item-3", "item-4", "item-5"]]);
  });

  it("never lists an item twice in a call: the second asker goes in the next call", async () => {
    const { buy, calls } = recordingBuy();
    const batcher = new BuyBatcher(buy);
    await Promise.all([batcher.buy(item(1)), batcher.buy(item(1)), batcher.buy(item(2))]);
    expect(calls).toEqual([["item-1", "item-2"], ["item-1"]]);
  });

  it("on a 422 naming unavailable items, fails only those and buys the others in a new call", async () => {
    const { buy, calls } = recordingBuy((ids, call) => (call === 1 ? unavailable(["item-1"]) : ids.map(numberFor)));
    const batcher = new BuyBatcher(buy);
    const results = await Promise.allSettled([0, 1, 2].map((i) => batcher.buy(item(i))));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(StockItemRefused);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({
      stockItem: item(1),
      ambiguous: false,
      kind: "transient",
    });
    expect(calls).toEqual([
      ["item-0", "item-1", "item-2"],
      ["item-0", "item-2"],
    ]);
  });

  it(
    "on a 422 that names no item, sends each item again alone, " +
      "so only the sold one fails, and tells who was refused",
    async () => {
      const { buy, calls } = recordingBuy((ids) => (ids.includes("item-1") ? unavailable() : ids.map(numberFor)));
      const refused: string[] = [];
      const batcher = new BuyBatcher(buy, { onRefused: (i) => refused.push(i.id) });
      const results = await Promise.allSettled([0, 1, 2].map((i) => batcher.buy(item(i))));
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(StockItemRefused);
      expect(calls.slice(1).every((c) => c.length === 1)).toBe(true);
      expect(calls).toHaveLength(4);
      expect(refused).toEqual(["item-1"]);
    },
  );

  it.each([
    { reason: "a lone item's 422 is final: it is not sent again", batch: 1, calls: 1 },
    { reason: "a batch's 422 naming nothing: each item once more, alone, then final", batch: 3, calls: 4 },
  ])("$reason", async ({ batch, calls: expected }) => {
    const { buy, calls } = recordingBuy(() => unavailable());
    const batcher = new BuyBatcher(buy);
    const results = await Promise.allSettled(Array.from({ length: batch }, (_, i) => batcher.buy(item(i))));
    expect(results.every((r) => r.status === "rejected" && r.reason instanceof StockItemRefused)).toBe(true);
    expect(calls).toHaveLength(expected);
  });

  it(
    "fails the whole batch with Bird's error on a refusal other than a 422 " +
      "(nothing was bought, nothing is retried)",
    async () => {
      const forbidden = new BirdApiError({
        method: "POST",
        route: "/workspaces/{workspaceId}/numbers-long-code",
        status: 403,
      });
      const { buy, calls } = recordingBuy(() => forbidden);
      const batcher = new BuyBatcher(buy);
      const results = await Promise.allSettled([0, 1].map((i) => batcher.buy(item(i))));
      expect(results.map((r) => (r.status === "rejected" ? (r.reason as unknown) : r.value))).toEqual([
        forbidden,
        forbidden,
      ]);
      expect(calls).toHaveLength(1);
    },
  );

  it("fails every purchase of a call whose outcome is unknown as ambiguous, and sends none of them again", async () => {
    const timeout = new BirdApiError({
      method: "POST",
      route: "/workspaces/{workspaceId}/numbers-long-code",
      status: 0,
      kind: "transient",
      ambiguous: true,
      message: "timed out",
    });
    const { buy, calls } = recordingBuy(() => timeout);
    const batcher = new BuyBatcher(buy);
    const results = await Promise.allSettled([0, 1, 2].map((i) => batcher.buy(item(i))));
    expect(results.map((r) => (r.status === "rejected" ? (r.reason as BirdApiError).ambiguous : "fulfilled"))).toEqual([
      true,
      true,
      true,
    ]);
    expect(calls).toHaveLength(1);
  });

  it("asks each purchase's guard right before the call and leaves out the ones it refuses", async () => {
    const { buy, calls } = recordingBuy();
    const batcher = new BuyBatcher(buy, { maxInFlight: 1 });
    let leading = true;
    const first = batcher.buy(item(0), () => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    // Asked while the first call is out; the lease is lost before their call goes.
    const waiting = [1, 2].map((i) =>
      batcher.buy(item(i), () => (leading ? undefined : new Error("no longer leading"))),
    );
    const unguarded = batcher.buy(item(3));
    leading = false;
    const results = await Promise.allSettled([first, ...waiting, unguarded]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect(calls).toEqual([["item-0"], ["item-3"]]);
  });

  it(
    "answers undefined for an item missing from Bird's answer " + "instead of handing it another item's number",
    async () => {
      const { buy } = recordingBuy((ids) => [numberFor(ids[0] as string)]);
      const batcher = new BuyBatcher(buy);
      const [a, b] = await Promise.all([batcher.buy(item(0)), batcher.buy(item(1))]);
      expect(a?.numberString).toBe(item(0).numberString);
      expect(b).toBeUndefined();
    },
  );
});

describe("BuyBatcher and StockPool against the simulator", () => {
  const filter = { countryCodes: ["NL"], types: ["mobile"] };
  let running: RunningSimulator | undefined;
  afterEach(async () => {
    await running?.close();
  });

  async function setUp(namesRefusedStockItems: boolean): Promise<{
    bird: BirdClient;
    pool: StockPool;
    batcher: BuyBatcher;
    taken: NumberStockItem[];
    sold: NumberStockItem[];
  }> {
    running = await startSimulator({ validateResponses: true, provisioningDelayMs: 0, namesRefusedStockItems });
    const bird = createBirdClient({
      baseUrl: running.url,
      organizationId: DEFAULT_ORGANIZATION_ID,
      workspaceId: DEFAULT_WORKSPACE_ID,
      accessKey: DEFAULT_ACCESS_KEY,
    });
    const pool = new StockPool(bird);
    const batcher = new BuyBatcher((ids, options) => bird.buyNumbers(ids, options), {
      onRefused: (i) => pool.refused(i),
    });
    const taken: NumberStockItem[] = [];
    for (let i = 0; i < 30; i++) taken.push((await pool.take(filter, () => true)) as NumberStockItem);
    // Someone else buys three of them before our purchases go out.
    const sold = [taken[3], taken[17], taken[26]] as NumberStockItem[];
    await bird.buyNumbers(sold.map((i) => i.id));
    running.sim.resetCalls();
    return { bird, pool, batcher, taken, sold };
  }

  /** How often each stock item was sent to Bird in a buy call. */
  function sentPerItem(): Map<string, number> {
    const sent = new Map<string, number>();
    for (const call of running?.sim.calls().recent ?? []) {
      if (call.method !== "POST") continue;
      for (const id of (call.body as { numberStockItemIds: string[] }).numberStockItemIds)
        sent.set(id, (sent.get(id) ?? 0) + 1);
    }
    return sent;
  }

  function stockSearches(): number {
    return (running?.sim.calls().counts ?? [])
      .filter((c) => c.route === "/organizations/{organizationId}/numbers-stock-items")
      .reduce((n, c) => n + c.count, 0);
  }

  it.each([
    {
      reason: "Bird's documented 422 (names nothing): the sold items are found by sending each alone",
      names: false,
      maxSends: 2,
    },
    {
      reason: "a 422 naming the items (our assumption, an option): the batch goes again without them",
      names: true,
      maxSends: 2,
    },
  ])(
    "30 purchases, 3 items sold meanwhile: 27 bought, 3 refused for good, the pool searched again; $reason",
    async ({ names, maxSends }) => {
      const { pool, batcher, taken, sold } = await setUp(names);
      const results = await Promise.allSettled(taken.map((i) => batcher.buy(i)));

      const refused = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
      expect(refused.every((e) => e instanceof StockItemRefused)).toBe(true);
      expect(refused.map((e) => (e as StockItemRefused).stockItem.id).sort()).toEqual(sold.map((i) => i.id).sort());
      const bought = results.flatMap((r) => (r.status === "fulfilled" && r.value ? [r.value.numberString] : []));
      expect(bought.sort()).toEqual(
        taken
          .filter((i) => !sold.includes(i))
          .map((i) => i.numberString)
          .sort(),
      );
      expect(running?.sim.purchases()).toHaveLength(3 + 27);
      // No item loops: each went out in its batch and at most once more.
      expect(Math.max(...sentPerItem().values())).toBeLessThanOrEqual(maxSends);
      if (names) for (const item of sold) expect(sentPerItem().get(item.id)).toBe(1);

      // The refusals dropped the pool those items came from: the next take searches Bird again.
      expect(stockSearches()).toBe(0);
      const next = await pool.take(filter, () => true);
      expect(stockSearches()).toBe(1);
      expect(taken.map((i) => i.id)).not.toContain(next?.id);
      expect(running?.sim.responseViolations()).toEqual([]);
    },
  );
});
