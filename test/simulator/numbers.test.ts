import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorBody, LongCodeNumber, NumberStockItem, RunningSimulator } from "../../src/simulator/index.js";
import {
  call,
  expectNoViolations,
  listAll,
  sleep,
  startTestSimulator,
  stockPath,
  workspacePath,
  type List,
} from "./helpers.js";

async function stockItems(
  running: RunningSimulator,
  query: Record<string, string | number>,
): Promise<NumberStockItem[]> {
  const answer = await call<List<NumberStockItem>>(running, "GET", stockPath(running), { query });
  expect(answer.status).toBe(200);
  return answer.body.results;
}

async function buy(
  running: RunningSimulator,
  ids: string[],
): Promise<{ status: number; body: List<LongCodeNumber> & ErrorBody }> {
  return call(running, "POST", workspacePath(running, "/numbers-long-code"), { body: { numberStockItemIds: ids } });
}

describe("simulator long code numbers", () => {
  let running: RunningSimulator;

  beforeAll(async () => {
    running = await startTestSimulator({ rateLimits: { enabled: false }, provisioningDelayMs: 150 });
  });

  afterAll(async () => {
    expectNoViolations(running);
    await running.close();
  });

  it("buys stock items: they leave stock, become numbers, and are logged as purchases", async () => {
    const items = await stockItems(running, { countryCodes: "US", prefix: "+1415", limit: 3 });
    const answer = await buy(
      running,
      items.map((i) => i.id),
    );
    expect(answer.status).toBe(201);
    expect(answer.body.results.map((n) => n.numberString)).toEqual(items.map((i) => i.numberString));
    for (const [index, number] of answer.body.results.entries()) {
      const item = items[index] as NumberStockItem;
      expect(number).toMatchObject({
        endpointId: number.id,
        countryCode: "US",
        type: "local",
        capabilities: item.capabilities,
      });
      expect(number.endpoint).toMatchObject({ id: number.id, type: "long-code-number", name: item.numberString });
      expect(number.order?.prefix).toBe("+1415");
    }
    const remaining = await listAll<NumberStockItem>(running, stockPath(running), {
      countryCodes: "US",
      prefix: "+1415",
      limit: 99,
    });
    expect(remaining.items.map((i) => i.id)).not.toContain(items[0]?.id);
    const logged = running.sim.purchases().filter((p) => items.some((i) => i.id === p.stockItemId));
    expect(logged.map((p) => p.numberId)).toEqual(answer.body.results.map((n) => n.id));
    expect(logged[0]).toMatchObject({ workspaceId: running.sim.identity.workspaceId, price: items[0]?.monthlyPrice });
  });

  it("replenishes stock, so the pool keeps its size", async () => {
    const before = running.sim.snapshot(false).organizations[0]?.stock.byCountry.CA?.local;
    const items = await stockItems(running, { countryCodes: "CA", types: "local", limit: 5 });
    expect(
      (
        await buy(
          running,
          items.map((i) => i.id),
        )
      ).status,
    ).toBe(201);
    expect(running.sim.snapshot(false).organizations[0]?.stock.byCountry.CA?.local).toBe(before);
  });

  it("refuses a sold item with Bird's documented plain 422 (no item named) and buys nothing of the batch", async () => {
    const [sold, fresh] = await stockItems(running, { countryCodes: "GB", types: "mobile", limit: 2 });
    expect((await buy(running, [sold?.id ?? ""])).status).toBe(201);
    const purchases = running.sim.purchases().length;
    const again = await buy(running, [fresh?.id ?? "", sold?.id ?? ""]);
    expect(again).toEqual({ status: 422, body: { code: "validation-error", message: "Validation error" } });
    expect(running.sim.purchases()).toHaveLength(purchases);
    const stillThere = await listAll<NumberStockItem>(running, stockPath(running), {
      countryCodes: "GB",
      types: "mobile",
      limit: 99,
    });
    expect(stillThere.items.map((i) => i.id)).toContain(fresh?.id);
  });

  it("names the refused items only when asked to (namesRefusedStockItems, our assumption)", async () => {
    const naming = await startTestSimulator({ rateLimits: { enabled: false }, namesRefusedStockItems: true });
    try {
      const [sold, fresh] = await stockItems(naming, { countryCodes: "GB", types: "mobile", limit: 2 });
      expect((await buy(naming, [sold?.id ?? ""])).status).toBe(201);
      const again = await buy(naming, [fresh?.id ?? "", sold?.id ?? ""]);
      expect(again).toMatchObject({
        status: 422,
        body: { code: "stock-item-unavailable", details: { numberStockItemIds: [sold?.id] } },
      });
      const twice = await buy(naming, [fresh?.id ?? "", fresh?.id ?? ""]);
      expect(twice).toMatchObject({
        status: 422,
        body: { code: "duplicate-stock-item", details: { numberStockItemIds: [fresh?.id] } },
      });
      expectNoViolations(naming);
    } finally {
      await naming.close();
    }
  });

  it("refuses unknown items, duplicates, more than 25 ids and malformed bodies", async () => {
    expect(await buy(running, [randomUUID()])).toMatchObject({ status: 422, body: { code: "validation-error" } });
    const [item] = await stockItems(running, { countryCodes: "DE", limit: 1 });
    const twice = await buy(running, [item?.id ?? "", item?.id ?? ""]);
    expect(twice).toMatchObject({ status: 422, body: { code: "validation-error" } });
    const many = await buy(
      running,
      Array.from({ length: 26 }, () => randomUUID()),
    );
    expect(many.status).toBe(422);
    expect(many.body.details?.errors).toEqual([expect.objectContaining({ in: "body", field: "numberStockItemIds" })]);
    const cases: [unknown, string][] = [
      [{ numberStockItemIds: [] }, "numberStockItemIds"],
      [{ numberStockItemIds: ["nope"] }, "numberStockItemIds[0]"],
      [{}, "numberStockItemIds"],
      [{ numberStockItemIds: [randomUUID()], extra: 1 }, "extra"],
    ];
    for (const [body, field] of cases) {
      const answer = await call<ErrorBody>(running, "POST", workspacePath(running, "/numbers-long-code"), { body });
      expect(answer.status).toBe(422);
      expect(answer.body.details?.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    }
    const notJson = await call<ErrorBody>(running, "POST", workspacePath(running, "/numbers-long-code"), {
      body: "{oops",
    });
    expect(notJson).toMatchObject({ status: 422, body: { code: "invalid-json" } });
    expect(running.sim.purchases().some((p) => p.stockItemId === item?.id)).toBe(false);
  });

  it("provisions a bought number after the provisioning delay", async () => {
    const [item] = await stockItems(running, { countryCodes: "NL", types: "mobile", limit: 1 });
    const [number] = (await buy(running, [item?.id ?? ""])).body.results;
    expect(number?.endpoint?.provisioningStatus).toBe("pending");
    expect(number?.endpoint?.capabilities?.find((c) => c.name === "sms")?.outbound?.status).toBe("inactive");
    await sleep(200);
    const later = await call<LongCodeNumber>(
      running,
      "GET",
      workspacePath(running, `/numbers-long-code/${number?.id}`),
    );
    expect(later.body.endpoint).toMatchObject({ provisioningStatus: "provisioned", issues: [] });
    expect(later.body.endpoint?.capabilities?.find((c) => c.name === "sms")?.outbound?.status).toBe("active");
    expect(Date.parse(later.body.updatedAt)).toBeGreaterThan(Date.parse(number?.updatedAt ?? ""));
  });

  it("gets a number by id (= endpoint id), 404 for unknown ones", async () => {
    const [number] = running.sim.addNumbers({ countryCode: "US" });
    const found = await call<LongCodeNumber>(
      running,
      "GET",
      workspacePath(running, `/numbers-long-code/${number?.endpointId}`),
    );
    expect(found.body.numberString).toBe(number?.numberString);
    const missing = await call<ErrorBody>(running, "GET", workspacePath(running, `/numbers-long-code/${randomUUID()}`));
    expect(missing).toMatchObject({ status: 404, body: { code: "not-found" } });
    const tooLong = await call<ErrorBody>(
      running,
      "GET",
      workspacePath(running, `/numbers-long-code/${"x".repeat(65)}`),
    );
    expect(tooLong.status).toBe(404);
  });

  it("lists numbers filtered by leading digits (+ optional) and country, in either order", async () => {
    const added = running.sim.addNumbers({ countryCode: "DE", type: "mobile", count: 12 });
    const first = added[0] as LongCodeNumber;
    const prefix = first.numberString.slice(0, 7);
    for (const digits of [prefix, prefix.slice(1)]) {
      const { items } = await listAll<LongCodeNumber>(running, workspacePath(running, "/numbers-long-code"), {
        numberString: digits,
      });
      expect(items.length).toBeGreaterThan(0);
      expect(items.every((n) => n.numberString.startsWith(prefix))).toBe(true);
    }
    const exact = await call<List<LongCodeNumber>>(running, "GET", workspacePath(running, "/numbers-long-code"), {
      query: { numberString: first.numberString },
    });
    expect(exact.body.results.map((n) => n.id)).toEqual([first.id]);
    const german = await listAll<LongCodeNumber>(running, workspacePath(running, "/numbers-long-code"), {
      countryCodes: "DE",
      limit: 5,
    });
    expect(german.items.map((n) => n.id)).toEqual(added.map((n) => n.id));
    expect(german.pages).toBe(3);
    const reversed = await listAll<LongCodeNumber>(running, workspacePath(running, "/numbers-long-code"), {
      countryCodes: "DE",
      reverse: true,
      limit: 5,
    });
    expect(reversed.items.map((n) => n.id)).toEqual(added.map((n) => n.id).reverse());
    const bad = await call<ErrorBody>(running, "GET", workspacePath(running, "/numbers-long-code"), {
      query: { numberString: "+31-20" },
    });
    expect(bad.status).toBe(422);
  });
});

describe("simulator at benchmark scale", () => {
  it("holds 10,000 numbers and pages them with limit 99 quickly", async () => {
    const running = await startTestSimulator({ rateLimits: { enabled: false } });
    try {
      running.sim.addNumbers({ countryCode: "US", type: "local", count: 5_000 });
      running.sim.addNumbers({ countryCode: "GB", type: "mobile", count: 5_000 });
      const started = Date.now();
      const { items, pages } = await listAll<LongCodeNumber>(running, workspacePath(running, "/numbers-long-code"), {
        limit: 99,
      });
      expect(items).toHaveLength(10_000);
      expect(pages).toBe(102);
      expect(new Set(items.map((n) => n.numberString)).size).toBe(10_000);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(running.sim.snapshot(false).workspaces[0]?.numberCount).toBe(10_000);
    } finally {
      expectNoViolations(running);
      await running.close();
    }
  });

  it("sells well over 1,000 numbers of one kind thanks to replenishment", async () => {
    const running = await startTestSimulator({
      rateLimits: { enabled: false },
      config: { stock: { countPerType: 30 } },
    });
    try {
      for (let batch = 0; batch < 48; batch++) {
        const items = await stockItems(running, { countryCodes: "NL", types: "mobile", limit: 25 });
        expect(
          (
            await buy(
              running,
              items.map((i) => i.id),
            )
          ).status,
        ).toBe(201);
      }
      expect(running.sim.purchases()).toHaveLength(1_200);
    } finally {
      expectNoViolations(running);
      await running.close();
    }
  });
});
