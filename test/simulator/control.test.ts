import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  AlphaNumber,
  CallStats,
  Destination,
  EndpointSubscription,
  LongCodeNumber,
  NumberStockItem,
  PurchaseRecord,
  RunningSimulator,
  StateSnapshot,
} from "../../src/simulator/index.js";
import { call, expectNoViolations, startTestSimulator, stockPath, workspacePath, type List } from "./helpers.js";

async function control<T>(
  running: RunningSimulator,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${running.url}/_simulator${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function firstStockItem(running: RunningSimulator, countryCode: string): Promise<NumberStockItem | undefined> {
  const answer = await call<List<NumberStockItem>>(running, "GET", stockPath(running), {
    query: { countryCodes: countryCode, limit: 1 },
  });
  return answer.body.results[0];
}

describe("simulator control API", () => {
  let running: RunningSimulator;

  beforeAll(async () => {
    running = await startTestSimulator({ rateLimits: { enabled: false } });
  });

  afterAll(async () => {
    expectNoViolations(running);
    await running.close();
  });

  it("shows state: stock counts, numbers and senders", async () => {
    const { status, body } = await control<StateSnapshot>(running, "GET", "/state");
    expect(status).toBe(200);
    expect(body.organizations[0]?.stock.byCountry.US).toEqual({ local: 300, "toll-free": 300 });
    expect(body.workspaces[0]?.senders?.map((s) => s.alphaString)).toEqual(["ACME", "BIRDIE", "SHOP24"]);
    const summary = await control<StateSnapshot>(running, "GET", "/state?lists=false");
    expect(summary.body.workspaces[0]?.numbers).toBeUndefined();
  });

  it("puts numbers straight into the workspace, one exact number or many at once", async () => {
    const one = await control<List<LongCodeNumber>>(running, "POST", "/numbers", {
      countryCode: "NL",
      numberString: "+31201234567",
    });
    expect(one.status).toBe(201);
    expect(one.body.results[0]).toMatchObject({
      numberString: "+31201234567",
      type: "local",
      endpoint: { provisioningStatus: "provisioned" },
    });
    const many = await control<List<LongCodeNumber>>(running, "POST", "/numbers", {
      countryCode: "GB",
      type: "mobile",
      count: 250,
    });
    expect(many.body.results).toHaveLength(250);
    expect(running.sim.purchases()).toHaveLength(0);
    const clash = await control(running, "POST", "/numbers", { countryCode: "NL", numberString: "+31201234567" });
    expect(clash.status).toBe(409);
    const bad = await control(running, "POST", "/numbers", { countryCode: "nl" });
    expect(bad.status).toBe(400);
  });

  it("takes a number put in the workspace out of stock", async () => {
    const item = await firstStockItem(running, "DE");
    await control(running, "POST", "/numbers", { countryCode: "DE", numberString: item?.numberString });
    const buy = await call(running, "POST", workspacePath(running, "/numbers-long-code"), {
      body: { numberStockItemIds: [item?.id] },
    });
    expect(buy.status).toBe(422);
  });

  it("adds stock with an exact number that can then be bought", async () => {
    const added = await control<List<NumberStockItem>>(running, "POST", "/stock", {
      items: [{ numberString: "+12125550100", countryCode: "US", type: "local" }],
    });
    expect(added.status).toBe(201);
    const query = { countryCodes: "US", prefix: "+12125550100" };
    const found = await call<List<NumberStockItem>>(running, "GET", stockPath(running), { query });
    expect(found.body.results.map((i) => i.id)).toEqual([added.body.results[0]?.id]);
    const buy = await call<List<LongCodeNumber>>(running, "POST", workspacePath(running, "/numbers-long-code"), {
      body: { numberStockItemIds: [added.body.results[0]?.id] },
    });
    expect(buy.body.results[0]?.numberString).toBe("+12125550100");
    const purchases = await control<List<PurchaseRecord>>(running, "GET", "/purchases");
    expect(purchases.body.results.map((p) => p.numberString)).toEqual(["+12125550100"]);
  });

  it("adds senders", async () => {
    const request = { alphaString: "NEWCO", activeCountries: ["BE"], blockedCountries: ["IT"] };
    const sender = await control<AlphaNumber>(running, "POST", "/senders", request);
    expect(sender.status).toBe(201);
    const fetched = await call<AlphaNumber>(running, "GET", workspacePath(running, `/numbers-alpha/${sender.body.id}`));
    const counts = fetched.body.endpoint?.capabilities?.[0]?.outbound?.destinationStatuses;
    expect(counts).toEqual({ active: 1, inactive: 0, available: 21, unavailable: 3 });
  });

  it("changes endpoints out of band: deactivate, cancel, delete", async () => {
    const [number] = running.sim.addNumbers({ countryCode: "US", type: "local" });
    const id = number?.id ?? "";
    running.sim.activateDestinations(id, { capability: "sms", countryCodes: ["US", "CA"] });
    const off = await control<List<Destination>>(running, "POST", `/endpoints/${id}/destinations/deactivate`, {
      capability: "sms",
      countryCodes: ["CA"],
    });
    expect(off.body.results[0]?.capabilities?.[0]).toMatchObject({ name: "sms", status: "inactive" });
    const cancel = await control<EndpointSubscription>(running, "POST", `/endpoints/${id}/subscriptions/main/cancel`);
    expect(cancel.body.status).toBe("inactive");
    const seen = await call<LongCodeNumber>(running, "GET", workspacePath(running, `/numbers-long-code/${id}`));
    expect(seen.body.endpoint?.capabilities?.[0]?.outbound?.destinationStatuses).toMatchObject({
      active: 1,
      inactive: 1,
    });
    expect(seen.body.deprovisionAt).toEqual(expect.any(String));
    const deleted = await control(running, "DELETE", `/numbers/${id}`);
    expect(deleted.status).toBe(200);
    expect((await call(running, "GET", workspacePath(running, `/numbers-long-code/${id}`))).status).toBe(404);
    expect((await control(running, "DELETE", `/numbers/${id}`)).status).toBe(404);
    const invalid = await control(running, "POST", `/endpoints/${id}/destinations/deactivate`, { capability: "sms" });
    expect(invalid.status).toBe(400);
  });

  it("counts public calls by method, route and status, logs POST bodies, and resets", async () => {
    await control(running, "DELETE", "/calls");
    await call(running, "GET", workspacePath(running, "/numbers-alpha"));
    await call(running, "GET", workspacePath(running, "/numbers-alpha"));
    await call(running, "POST", workspacePath(running, "/numbers-long-code"), { body: { numberStockItemIds: [] } });
    await call(running, "GET", workspacePath(running, "/nothing-here"));
    await control(running, "GET", "/state?lists=false");
    const { body } = await control<CallStats>(running, "GET", "/calls");
    expect(body.total).toBe(4);
    expect(body.counts).toEqual(
      expect.arrayContaining([
        { method: "GET", route: "/workspaces/{workspaceId}/numbers-alpha", status: 200, count: 2 },
        { method: "POST", route: "/workspaces/{workspaceId}/numbers-long-code", status: 422, count: 1 },
        { method: "GET", route: "unmatched", status: 404, count: 1 },
      ]),
    );
    expect(body.recent[2]).toMatchObject({ method: "POST", body: { numberStockItemIds: [] } });
    expect((await control<CallStats>(running, "DELETE", "/calls")).body.total).toBe(0);
  });

  it("keeps a bounded call log", async () => {
    const small = await startTestSimulator({ callLogSize: 3, rateLimits: { enabled: false } });
    try {
      const path = `/workspaces/${small.sim.identity.workspaceId}/numbers-long-code`;
      for (let i = 0; i < 5; i++) await call(small, "GET", path, { query: { limit: i + 1 } });
      const stats = small.sim.calls();
      expect(stats.total).toBe(5);
      expect(stats.recent.map((c) => c.path.split("limit=")[1])).toEqual(["3", "4", "5"]);
    } finally {
      await small.close();
    }
  });

  it("sets the provisioning delay at run time", async () => {
    expect((await control(running, "PUT", "/provisioning", { delayMs: 60_000 })).status).toBe(200);
    const item = await firstStockItem(running, "CA");
    const buy = await call<List<LongCodeNumber>>(running, "POST", workspacePath(running, "/numbers-long-code"), {
      body: { numberStockItemIds: [item?.id] },
    });
    expect(buy.body.results[0]?.endpoint?.provisioningStatus).toBe("pending");
    running.sim.setProvisioningDelay(0);
  });

  it("answers unknown control routes with 404 and wrong methods with 405", async () => {
    expect((await control(running, "GET", "/nothing")).status).toBe(404);
    expect((await control(running, "POST", "/state")).status).toBe(405);
    expect((await control(running, "PUT", "/faults", "not json")).status).toBe(400);
  });
});
