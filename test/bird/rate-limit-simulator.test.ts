import { afterEach, describe, expect, it } from "vitest";
import { createBirdClient, resetRateLimiters, type BirdClient, type BirdClientOptions } from "../../src/bird/index.js";
import { StockPool } from "../../src/workspace/stock-pool.js";
import {
  DEFAULT_ACCESS_KEY,
  DEFAULT_ORGANIZATION_ID,
  DEFAULT_WORKSPACE_ID,
  startSimulator,
  type RateLimitSettings,
  type RunningSimulator,
} from "../../src/simulator/index.js";
import { capturingLogger } from "./helpers.js";

const STOCK_ROUTE = "/organizations/{organizationId}/numbers-stock-items";

/**
 * The client's shared limiter against a simulator that enforces Bird's limits,
 * counted as a bucket or per sliding second.
 */
describe("rate limiting against the simulator", () => {
  let running: RunningSimulator | undefined;

  afterEach(async () => {
    await running?.close();
    running = undefined;
    resetRateLimiters();
  });

  async function start(rateLimits: Partial<RateLimitSettings>): Promise<RunningSimulator> {
    running = await startSimulator({ port: 0, rateLimits: { enabled: true, ...rateLimits } });
    return running;
  }

  function client(sim: RunningSimulator, options: Partial<BirdClientOptions> = {}): BirdClient {
    return createBirdClient({
      baseUrl: sim.url,
      organizationId: DEFAULT_ORGANIZATION_ID,
      workspaceId: DEFAULT_WORKSPACE_ID,
      accessKey: DEFAULT_ACCESS_KEY,
      ...options,
    });
  }

  function statuses(sim: RunningSimulator): Record<number, number> {
    const counts: Record<number, number> = {};
    for (const c of sim.sim.calls().counts) counts[c.status] = (counts[c.status] ?? 0) + c.count;
    return counts;
  }

  it("holds a burst of 500 GETs from two clients of one workspace to 50/s without a single 429", async () => {
    const sim = await start({ getPerSecond: 50, postPerSecond: 500 });
    const [a, b] = [client(sim), client(sim)];
    const started = Date.now();
    await Promise.all(Array.from({ length: 500 }, (_, i) => (i % 2 ? a : b).listAlphaNumbers({ limit: 1 })));
    const seconds = (Date.now() - started) / 1000;
    expect(statuses(sim)).toEqual({ 200: 500 });
    // The limiter can only make it slower than (500 - burst) / 50 s, never faster.
    expect(seconds).toBeGreaterThanOrEqual(9);
  }, 60_000);

  it("draws no 429 from a Bird that counts 50 GETs in any sliding second, in a stock-exhaustion run", async () => {
    const sim = await start({ window: "sliding" });
    // Resources waiting for stock that none has, each searching on its own, from two clients of the workspace.
    const [a, b] = [client(sim), client(sim)];
    const filters = ["+1212", "+1415", "+1646", "+1312", "+1617"].map((prefix) => ({
      countryCodes: ["US"],
      prefix,
      types: ["mobile"],
    }));
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        (i % 2 ? a : b).searchStock(filters[i % filters.length] ?? {}, { limit: 99 }),
      ),
    );
    expect(statuses(sim)).toEqual({ 200: 300 });
  }, 60_000);

  it("absorbs the 429s of a workspace whose budget another client shares, and sends slower meanwhile", async () => {
    const sim = await start({ window: "sliding", sharedGetPerSecond: 25 });
    const { logger, lines } = capturingLogger();
    const bird = client(sim, { logger });
    const answers = await Promise.allSettled(
      Array.from({ length: 300 }, () => bird.searchStock({ countryCodes: ["NL"] }, { limit: 1 })),
    );
    expect(answers.filter((a) => a.status === "rejected")).toEqual([]);
    const counts = statuses(sim);
    expect(counts[200]).toBe(300);
    expect(counts[429]).toBeGreaterThan(0);
    const slower = lines
      .map((l) => JSON.parse(l) as { msg: string; perSecond?: number })
      .filter((l) => l.msg === "Bird throttled this workspace; sending slower");
    expect(slower.length).toBeGreaterThan(0);
    expect(Math.min(...slower.map((l) => l.perSecond ?? 50))).toBeLessThan(35);
    console.log(
      `shared-load run: ${counts[429]} 429s absorbed for 300 GETs; rate cut ${slower.length} times, ` +
        `lowest ${Math.min(...slower.map((l) => l.perSecond ?? 50))}/s`,
    );
  }, 120_000);

  it(
    "lets resources waiting for the same stock share one search per poll, " + "and wakes them when stock appears",
    async () => {
      const sim = await start({ window: "sliding" });
      const bird = client(sim);
      const pool = new StockPool(bird, { pollMs: 100 });
      const filter = { countryCodes: ["NL"], prefix: "+3197" };
      const woken: string[] = [];
      for (let i = 0; i < 100; i++)
        pool.waitFor(
          filter,
          `ns/pn-${i}`,
          () => true,
          () => woken.push(`ns/pn-${i}`),
        );
      await new Promise((resolve) => setTimeout(resolve, 550));
      const searches = (): number =>
        sim.sim
          .calls()
          .counts.filter((c) => c.route === STOCK_ROUTE)
          .reduce((n, c) => n + c.count, 0);
      // About one search per poll for all 100, where each searching on its own would have made 100 a poll.
      expect(searches()).toBeGreaterThan(0);
      expect(searches()).toBeLessThanOrEqual(6);
      expect(woken).toEqual([]);
      expect(pool.waiting()).toEqual({ filters: 1, waiters: 100 });

      sim.sim.addStock(
        ["+31970000001", "+31970000002", "+31970000003"].map((numberString) => ({
          numberString,
          countryCode: "NL",
          type: "mobile" as const,
        })),
      );
      const deadline = Date.now() + 10_000;
      while (woken.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      // One waiter per item found, in the order they started waiting; the others keep waiting.
      expect(woken).toEqual(["ns/pn-0", "ns/pn-1", "ns/pn-2"]);
      expect(pool.waiting().waiters).toBe(97);
      const before = searches();
      const taken = await Promise.all([0, 1, 2].map(() => pool.take(filter, () => true)));
      expect(taken.map((i) => i?.numberString).sort()).toEqual(["+31970000001", "+31970000002", "+31970000003"]);
      expect(searches()).toBe(before);
      for (let i = 3; i < 100; i++) pool.cancelWait(`ns/pn-${i}`);
      expect(pool.waiting()).toEqual({ filters: 0, waiters: 0 });
      expect(statuses(sim)[429]).toBeUndefined();
    },
    60_000,
  );
});
