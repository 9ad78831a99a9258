import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ErrorBody, NumberStockItem, RunningSimulator } from "../../src/simulator/index.js";
import { call, expectNoViolations, startTestSimulator, stockPath, workspacePath, type List } from "./helpers.js";

const BUY = "POST /workspaces/{workspaceId}/numbers-long-code";

describe("simulator fault injection", () => {
  let running: RunningSimulator;

  const freshItem = async (): Promise<NumberStockItem> => {
    const answer = await call<List<NumberStockItem>>(running, "GET", stockPath(running), {
      query: { countryCodes: "US", limit: 1 },
    });
    return answer.body.results[0] as NumberStockItem;
  };
  const rawBuy = (id: string): Promise<Response> =>
    fetch(`${running.url}${workspacePath(running, "/numbers-long-code")}`, {
      method: "POST",
      headers: { authorization: "AccessKey demo-access-key", "content-type": "application/json" },
      body: JSON.stringify({ numberStockItemIds: [id] }),
    });
  const bought = (id: string): boolean => running.sim.purchases().some((p) => p.stockItemId === id);

  beforeAll(async () => {
    running = await startTestSimulator({ rateLimits: { enabled: false } });
  });

  beforeEach(() => {
    running.sim.setFaults({});
  });

  afterAll(async () => {
    expectNoViolations(running);
    await running.close();
  });

  it("answers 500 or 503 at the error rate without processing the request", async () => {
    const item = await freshItem();
    running.sim.setFaults({ errorRate: 1, routes: [BUY] });
    const answer = await call<ErrorBody>(running, "POST", workspacePath(running, "/numbers-long-code"), {
      body: { numberStockItemIds: [item.id] },
    });
    expect([500, 503]).toContain(answer.status);
    expect(Object.keys(answer.body).sort()).toEqual(["code", "message"]);
    expect(bought(item.id)).toBe(false);
    expect((await call(running, "GET", workspacePath(running, "/numbers-alpha"))).status).toBe(200);
  });

  it("answers the next N requests with 429, then recovers", async () => {
    running.sim.setFaults({ rateLimitBurst: { count: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await call(running, "GET", workspacePath(running, "/numbers-alpha"))).status);
    expect(statuses).toEqual([429, 429, 429, 200]);
    expect(running.sim.faults().rateLimitBurst).toEqual({ count: 0 });
  });

  it("resets the connection after buying: the number is bought although the caller got no answer", async () => {
    const item = await freshItem();
    running.sim.setFaults({ resetRate: 1, routes: ["buyLongCodeNumbers"] });
    await expect(rawBuy(item.id)).rejects.toThrow();
    expect(bought(item.id)).toBe(true);
    const recent = running.sim.calls().recent.at(-1);
    expect(recent).toMatchObject({
      method: "POST",
      status: 0,
      fault: "reset",
      body: { numberStockItemIds: [item.id] },
    });
  });

  it("sends truncated JSON after buying: the purchase happened", async () => {
    const item = await freshItem();
    running.sim.setFaults({ malformedRate: 1, routes: [BUY] });
    const response = await rawBuy(item.id);
    expect(response.status).toBe(201);
    await expect(response.json()).rejects.toThrow();
    expect(bought(item.id)).toBe(true);
  });

  it("never corrupts error answers", async () => {
    running.sim.setFaults({ malformedRate: 1 });
    const answer = await call<ErrorBody>(running, "GET", workspacePath(running, "/numbers-long-code/unknown"));
    expect(answer).toMatchObject({ status: 404, body: { code: "not-found" } });
  });

  it("adds latency and jitter", async () => {
    running.sim.setFaults({ latencyMs: 120, jitterMs: 30, seed: 7 });
    const started = Date.now();
    await call(running, "GET", workspacePath(running, "/numbers-alpha"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(115);
  });

  it("restricts faults to the listed routes", async () => {
    running.sim.setFaults({ errorRate: 1, routes: ["/workspaces/{workspaceId}/numbers-alpha"] });
    expect((await call(running, "GET", workspacePath(running, "/numbers-alpha"))).status).toBeGreaterThanOrEqual(500);
    expect((await call(running, "GET", workspacePath(running, "/numbers-long-code"))).status).toBe(200);
  });

  it("is set and read through the control API, and refuses nonsense", async () => {
    const put = await fetch(`${running.url}/_simulator/faults`, {
      method: "PUT",
      body: JSON.stringify({ errorRate: 0.5, latencyMs: 5 }),
    });
    expect(await put.json()).toEqual({ errorRate: 0.5, latencyMs: 5 });
    expect(await (await fetch(`${running.url}/_simulator/faults`)).json()).toEqual({ errorRate: 0.5, latencyMs: 5 });
    const bad = await fetch(`${running.url}/_simulator/faults`, {
      method: "PUT",
      body: JSON.stringify({ errorRate: 2 }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: "invalid-request", details: { field: "errorRate" } });
  });

  it("can start with faults already on", async () => {
    const faulty = await startTestSimulator({ faults: { rateLimitBurst: { count: 1 } } });
    try {
      expect((await call(faulty, "GET", `/workspaces/${faulty.sim.identity.workspaceId}/numbers-alpha`)).status).toBe(
        429,
      );
    } finally {
      await faulty.close();
    }
  });
});
