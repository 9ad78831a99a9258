import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BirdApiError, createBirdClient, type BuyOptions, type LongCodeNumber } from "../../src/bird/index.js";
import { BuyBatcher } from "../../src/bird/buy-batcher.js";
import { DEFAULT_ACCESS_KEY, DEFAULT_ORGANIZATION_ID, DEFAULT_WORKSPACE_ID, startSimulator, type RunningSimulator } from "../../src/simulator/index.js";

const item = (i: number): { id: string; numberString: string } => ({ id: `item-${i}`, numberString: `+3197000000${String(i).padStart(3, "0")}` });
const numberFor = (id: string): LongCodeNumber => ({ id: `number-${id}`, numberString: item(Number(id.slice(5))).numberString }) as LongCodeNumber;

/**
 * A buy function that records each call's ids and answers after a turn of the event loop, or as `answer` says. Like
 * the client's transport, it asks the guard right before sending and records nothing the guard stopped.
 */
function recordingBuy(answer?: (ids: string[], call: number) => LongCodeNumber[] | Error): { buy: (ids: string[], options: BuyOptions) => Promise<LongCodeNumber[]>; calls: string[][] } {
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

const unavailable = (ids?: string[]): BirdApiError =>
  new BirdApiError({ method: "POST", route: "/workspaces/{workspaceId}/numbers-long-code", status: 422, code: "stock-item-unavailable", details: ids ? { numberStockItemIds: ids } : undefined });

describe("BuyBatcher", () => {
  it("sends purchases asked for in the same turn in one call, at most 25 items a call, each getting its own number", async () => {
    const { buy, calls } = recordingBuy();
    const batcher = new BuyBatcher(buy);
    const numbers = await Promise.all(Array.from({ length: 60 }, (_, i) => batcher.buy(item(i))));
    expect(calls.map((c) => c.length)).toEqual([25, 25, 10]);
    expect(numbers.map((n) => n?.numberString)).toEqual(Array.from({ length: 60 }, (_, i) => item(i).numberString));
  });

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
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: "stock-item-unavailable" });
    expect(calls).toEqual([["item-0", "item-1", "item-2"], ["item-0", "item-2"]]);
  });

  it("on a 422 that names no item, sends each item again alone, so only the sold one fails", async () => {
    const { buy, calls } = recordingBuy((ids) => (ids.includes("item-1") ? unavailable() : ids.map(numberFor)));
    const batcher = new BuyBatcher(buy);
    const results = await Promise.allSettled([0, 1, 2].map((i) => batcher.buy(item(i))));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(calls.slice(1).every((c) => c.length === 1)).toBe(true);
    expect(calls).toHaveLength(4);
  });

  it("fails every purchase of a call whose outcome is unknown as ambiguous, and sends none of them again", async () => {
    const timeout = new BirdApiError({ method: "POST", route: "/workspaces/{workspaceId}/numbers-long-code", status: 0, kind: "transient", ambiguous: true, message: "timed out" });
    const { buy, calls } = recordingBuy(() => timeout);
    const batcher = new BuyBatcher(buy);
    const results = await Promise.allSettled([0, 1, 2].map((i) => batcher.buy(item(i))));
    expect(results.map((r) => (r.status === "rejected" ? (r.reason as BirdApiError).ambiguous : "fulfilled"))).toEqual([true, true, true]);
    expect(calls).toHaveLength(1);
  });

  it("asks each purchase's guard right before the call and leaves out the ones it refuses", async () => {
    const { buy, calls } = recordingBuy();
    const batcher = new BuyBatcher(buy, { maxInFlight: 1 });
    let leading = true;
    const first = batcher.buy(item(0), () => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    // Asked while the first call is out; the lease is lost before their call goes.
    const waiting = [1, 2].map((i) => batcher.buy(item(i), () => (leading ? undefined : new Error("no longer leading"))));
    const unguarded = batcher.buy(item(3));
    leading = false;
    const results = await Promise.allSettled([first, ...waiting, unguarded]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect(calls).toEqual([["item-0"], ["item-3"]]);
  });

  it("answers undefined for an item missing from Bird's answer instead of handing it another item's number", async () => {
    const { buy } = recordingBuy((ids) => [numberFor(ids[0] as string)]);
    const batcher = new BuyBatcher(buy);
    const [a, b] = await Promise.all([batcher.buy(item(0)), batcher.buy(item(1))]);
    expect(a?.numberString).toBe(item(0).numberString);
    expect(b).toBeUndefined();
  });
});

describe("BuyBatcher against the simulator", () => {
  let running: RunningSimulator;
  beforeAll(async () => {
    running = await startSimulator({ validateResponses: true, provisioningDelayMs: 0 });
  });
  afterAll(async () => {
    await running.close();
  });

  it("buys 30 items in two calls; an item sold meanwhile fails alone and the rest are bought once each", async () => {
    const bird = createBirdClient({ baseUrl: running.url, organizationId: DEFAULT_ORGANIZATION_ID, workspaceId: DEFAULT_WORKSPACE_ID, accessKey: DEFAULT_ACCESS_KEY });
    const page = await bird.searchStock({ countryCodes: ["NL"], types: ["mobile"] }, { limit: 31 });
    const items = page.results.slice(0, 31);
    expect(items).toHaveLength(31);
    const sold = items[30] as (typeof items)[number];
    await bird.buyNumbers([sold.id]);
    const before = running.sim.purchases().length;
    const batcher = new BuyBatcher((ids) => bird.buyNumbers(ids));
    const wanted = [...items.slice(0, 29), sold];
    const results = await Promise.allSettled(wanted.map((i) => batcher.buy(i)));
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(1);
    expect((results[29] as PromiseRejectedResult).reason).toMatchObject({ code: "stock-item-unavailable" });
    const bought = results.flatMap((r) => (r.status === "fulfilled" && r.value ? [r.value.numberString] : []));
    expect(bought.sort()).toEqual(items.slice(0, 29).map((i) => i.numberString).sort());
    expect(running.sim.purchases().length - before).toBe(29);
    expect(running.sim.responseViolations()).toEqual([]);
  });
});
