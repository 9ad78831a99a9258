import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BirdApiError, createBirdClient, type BirdClient, type BirdClientOptions } from "../../src/bird/index.js";
import {
  DEFAULT_ACCESS_KEY,
  DEFAULT_ORGANIZATION_ID,
  DEFAULT_WORKSPACE_ID,
  startSimulator,
  type RunningSimulator,
} from "../../src/simulator/index.js";
import { rejectionOf } from "./helpers.js";

/** Round trips of every client call against the simulator, which checks each answer against openapi/bird.yaml. */
describe("BirdClient against the simulator", () => {
  let running: RunningSimulator;

  beforeAll(async () => {
    running = await startSimulator({ validateResponses: true, provisioningDelayMs: 0 });
  });
  afterAll(async () => {
    await running.close();
  });
  afterEach(() => {
    running.sim.setFaults({});
    expect(running.sim.responseViolations()).toEqual([]);
  });

  const client = (overrides: Partial<BirdClientOptions> = {}): BirdClient =>
    createBirdClient({
      baseUrl: running.url,
      organizationId: DEFAULT_ORGANIZATION_ID,
      workspaceId: DEFAULT_WORKSPACE_ID,
      accessKey: DEFAULT_ACCESS_KEY,
      backoff: { baseMs: 1, maxMs: 20 },
      ...overrides,
    });

  async function firstStockItem(bird: BirdClient, prefix: string): Promise<{ id: string; numberString: string }> {
    const page = await bird.searchStock({ countryCodes: ["US"], prefix, types: ["local"] }, { limit: 5 });
    const item = page.results[0];
    if (!item) throw new Error(`no stock under ${prefix}`);
    return item;
  }

  it("searches stock with filters and walks it page by page", async () => {
    const bird = client();
    const page = await bird.searchStock({ countryCodes: ["US"], prefix: "+1212", types: ["local"] }, { limit: 3 });
    expect(page.results.length).toBeGreaterThan(0);
    expect(page.results.length).toBeLessThanOrEqual(3);
    for (const item of page.results) {
      expect([item.countryCode, item.type, item.numberString.startsWith("+1212")]).toEqual(["US", "local", true]);
    }
    const walked: string[] = [];
    for await (const item of bird.stockItems({ countryCodes: ["US"], prefix: "+1212" }, { limit: 2, max: 5 }))
      walked.push(item.id);
    expect(walked).toHaveLength(5);
    expect(new Set(walked).size).toBe(5);
  });

  it("buys a number, then finds it by id, by numberString and in the full list", async () => {
    const bird = client();
    const item = await firstStockItem(bird, "+1415");
    const [number] = await bird.buyNumbers([item.id]);
    expect(number?.numberString).toBe(item.numberString);
    const id = number?.id ?? "";
    expect((await bird.getNumber(id)).numberString).toBe(item.numberString);
    expect((await bird.listNumbers({ numberString: item.numberString })).results.map((n) => n.id)).toEqual([id]);
    const all: string[] = [];
    for await (const n of bird.numbers()) all.push(n.id);
    expect(all).toContain(id);
  });

  it("lists, gets and cancels a number's main subscription", async () => {
    const bird = client();
    const [number] = await bird.buyNumbers([(await firstStockItem(bird, "+1646")).id]);
    const id = number?.id ?? "";
    expect((await bird.listSubscriptions(id)).map((s) => s.name)).toContain("main");
    expect((await bird.getSubscription(id, "main")).name).toBe("main");
    const cancelled = await bird.cancelSubscription(id, "main");
    expect(cancelled.subscription?.canceledAt).toBeDefined();
    expect((await bird.cancelSubscription(id, "main")).subscription?.canceledAt).toBe(
      cancelled.subscription?.canceledAt,
    );
    expect((await bird.getNumber(id)).deprovisionAt).toBeDefined();
  });

  it("manages an alphanumeric sender's destinations and subscriptions", async () => {
    const bird = client();
    const sender = running.sim.addSender({ alphaString: "ROUNDTRIP", workspaceId: DEFAULT_WORKSPACE_ID });
    const senders: string[] = [];
    for await (const s of bird.alphaNumbers()) senders.push(s.id);
    expect(senders).toContain(sender.id);
    expect((await bird.getAlphaNumber(sender.id)).alphaString).toBe("ROUNDTRIP");

    const validated = await bird.activateDestinations(sender.endpointId, "sms", ["NL"], { validate: true });
    expect(validated.subscriptionPrices?.NL?.currencyCode).toBeDefined();
    expect((await bird.listSubscriptions(sender.endpointId)).map((s) => s.name)).not.toContain("NL");

    const activated = await bird.activateDestinations(sender.endpointId, "sms", ["NL"]);
    expect(activated.results?.map((d) => d.countryCode)).toEqual(["NL"]);
    expect((await bird.getSubscription(sender.endpointId, "NL")).name).toBe("NL");

    const deactivated = await bird.deactivateDestinations(sender.endpointId, "sms", ["NL"]);
    expect(deactivated.map((d) => d.countryCode)).toEqual(["NL"]);
    expect((await bird.cancelSubscription(sender.endpointId, "NL")).name).toBe("NL");
  });

  it("maps the simulator's refusals to typed errors", async () => {
    const notFound = (await rejectionOf(client().getNumber("does-not-exist"))) as BirdApiError;
    expect([notFound.status, notFound.kind]).toEqual([404, "not-found"]);
    const unauthorized = (await rejectionOf(client({ accessKey: "wrong-key" }).listNumbers())) as BirdApiError;
    expect([unauthorized.status, unauthorized.kind]).toEqual([401, "unauthorized"]);
    expect(unauthorized.message).not.toContain("wrong-key");
  });

  it("retries a 429 burst on a buy and buys exactly once", async () => {
    const bird = client();
    const item = await firstStockItem(bird, "+1312");
    const before = running.sim.purchases().length;
    running.sim.setFaults({
      rateLimitBurst: { count: 2 },
      routes: ["POST /workspaces/{workspaceId}/numbers-long-code"],
    });
    const [number] = await bird.buyNumbers([item.id]);
    expect(number?.numberString).toBe(item.numberString);
    expect(running.sim.purchases().length).toBe(before + 1);
  });

  it("does not repeat a buy whose answer was lost, and the number is then found by its numberString", async () => {
    const bird = client();
    const item = await firstStockItem(bird, "+1617");
    const before = running.sim.purchases().length;
    running.sim.setFaults({ resetRate: 1, routes: ["POST /workspaces/{workspaceId}/numbers-long-code"] });
    const error = (await rejectionOf(bird.buyNumbers([item.id]))) as BirdApiError;
    expect([error.status, error.kind, error.ambiguous]).toEqual([0, "transient", true]);
    expect(running.sim.purchases().length).toBe(before + 1);
    running.sim.setFaults({});
    expect((await bird.listNumbers({ numberString: item.numberString })).results).toHaveLength(1);
  });

  it("gets past server errors and truncated bodies on reads", async () => {
    const bird = client({ maxAttempts: 6 });
    running.sim.setFaults({ errorRate: 0.5, seed: 7, routes: ["listLongCodeNumbers"] });
    await expect(bird.listNumbers()).resolves.toBeDefined();
    running.sim.setFaults({ malformedRate: 1, routes: ["listLongCodeNumbers"] });
    const malformed = (await rejectionOf(bird.listNumbers())) as BirdApiError;
    expect([malformed.kind, malformed.ambiguous]).toEqual(["transient", false]);
    expect(malformed.message).toMatch(/malformed response body/);
  });
});
