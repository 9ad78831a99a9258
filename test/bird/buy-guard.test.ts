import { afterEach, describe, expect, it } from "vitest";
import { BuyBatcher } from "../../src/workspace/buy-batcher.js";
import { createBirdClient, resetRateLimiters, type BirdClient, type NumberStockItem } from "../../src/bird/index.js";
import {
  DEFAULT_ACCESS_KEY,
  DEFAULT_ORGANIZATION_ID,
  DEFAULT_WORKSPACE_ID,
  startSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from "../../src/simulator/index.js";

const BUY_ROUTE = "/workspaces/{workspaceId}/numbers-long-code";

/**
 * The stale-leader guard runs right before a buy leaves, not when the purchase joins a batch: a replica frozen in
 * the rate limiter's wait, or between a 429 and its retry, may have lost its lease meanwhile. Each test counts the
 * buy requests that reached Bird.
 */
describe("a buy's guard, against the simulator", () => {
  let running: RunningSimulator | undefined;
  afterEach(async () => {
    await running?.close();
    resetRateLimiters();
  });

  async function setUp(
    options: SimulatorOptions,
    postPerSecond?: number,
  ): Promise<{ client: BirdClient; batcher: BuyBatcher; items: NumberStockItem[] }> {
    running = await startSimulator({ validateResponses: true, provisioningDelayMs: 0, ...options });
    const rateLimits = postPerSecond === undefined ? undefined : { postPerSecond, postBurst: 1 };
    const client = createBirdClient({
      baseUrl: running.url,
      organizationId: DEFAULT_ORGANIZATION_ID,
      workspaceId: DEFAULT_WORKSPACE_ID,
      accessKey: DEFAULT_ACCESS_KEY,
      rateLimits,
      backoff: { baseMs: 50, maxMs: 100 },
    });
    const batcher = new BuyBatcher((ids, buyOptions) => client.buyNumbers(ids, buyOptions));
    const items = (await client.searchStock({ countryCodes: ["NL"], types: ["mobile"] }, { limit: 2 })).results;
    return { client, batcher, items };
  }

  function buyRequests(): number {
    return (running?.sim.calls().counts ?? [])
      .filter((c) => c.method === "POST" && c.route === BUY_ROUTE)
      .reduce((n, c) => n + c.count, 0);
  }

  it("stops a buy whose guard turned false while it waited for the rate limiter", async () => {
    // One POST every 2 s: the second buy waits for the limiter after the batcher handed it on.
    const { batcher, items } = await setUp({}, 0.5);
    const [first, second] = items as [NumberStockItem, NumberStockItem];
    await batcher.buy(first);
    let leading = true;
    const stale = batcher.buy(second, () => (leading ? undefined : new Error("no longer leading")));
    await new Promise((resolve) => setTimeout(resolve, 300));
    leading = false;
    await expect(stale).rejects.toThrow("no longer leading");
    expect(buyRequests()).toBe(1);
    expect(running?.sim.purchases().map((p) => p.stockItemId)).toEqual([first.id]);
  });

  it("stops a buy whose guard turned false between a 429 and its retry", async () => {
    const { batcher, items } = await setUp({
      faults: { rateLimitBurst: { count: 1 }, routes: ["buyLongCodeNumbers"] },
    });
    let asked = 0;
    const guard = (): Error | undefined => (++asked > 1 ? new Error("no longer leading") : undefined);
    await expect(batcher.buy(items[0] as NumberStockItem, guard)).rejects.toThrow("no longer leading");
    expect(asked).toBe(2);
    expect(running?.sim.calls().counts.filter((c) => c.route === BUY_ROUTE)).toEqual([
      { method: "POST", route: BUY_ROUTE, status: 429, count: 1 },
    ]);
    expect(running?.sim.purchases()).toEqual([]);
  });

  it("lets the other purchases of the batch go without the one whose guard refused", async () => {
    const { batcher, items } = await setUp({
      faults: { rateLimitBurst: { count: 1 }, routes: ["buyLongCodeNumbers"] },
    });
    const [kept, refused] = items as [NumberStockItem, NumberStockItem];
    let asked = 0;
    const results = await Promise.allSettled([
      batcher.buy(kept),
      batcher.buy(refused, () => (++asked > 1 ? new Error("no longer leading") : undefined)),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
    expect(running?.sim.purchases().map((p) => p.stockItemId)).toEqual([kept.id]);
    expect(buyRequests()).toBe(2);
  });
});
