import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorBody, NumberStockItem, RunningSimulator } from "../../src/simulator/index.js";
import { call, expectNoViolations, listAll, startTestSimulator, stockPath, type List } from "./helpers.js";

describe("simulator stock", () => {
  let running: RunningSimulator;

  beforeAll(async () => {
    running = await startTestSimulator({ rateLimits: { enabled: false } });
  });

  afterAll(async () => {
    expectNoViolations(running);
    await running.close();
  });

  it("lists 10 items by default, with a page token", async () => {
    const answer = await call<List<NumberStockItem>>(running, "GET", stockPath(running));
    expect(answer.status).toBe(200);
    expect(answer.body.results).toHaveLength(10);
    expect(answer.body.nextPageToken).toEqual(expect.any(String));
  });

  it("pages through a country's stock with limit 99 without repeats or gaps", async () => {
    const counts = running.sim.snapshot(false).organizations[0]?.stock.byCountry.NL ?? {};
    const expected = Object.values(counts).reduce((sum, n) => sum + n, 0);
    const { items, pages } = await listAll<NumberStockItem>(running, stockPath(running), {
      countryCodes: "NL",
      limit: 99,
    });
    expect(items).toHaveLength(expected);
    expect(pages).toBe(Math.ceil(expected / 99));
    expect(new Set(items.map((i) => i.id)).size).toBe(items.length);
    expect(items.every((i) => i.countryCode === "NL")).toBe(true);
    expect(new Set(items.map((i) => i.type))).toEqual(new Set(["local", "mobile", "toll-free", "national"]));
  });

  it("filters by several countries, given as repeated or comma-separated parameters", async () => {
    const repeated = await listAll<NumberStockItem>(running, stockPath(running), {
      countryCodes: ["US", "CA"],
      limit: 99,
    });
    const comma = await listAll<NumberStockItem>(running, stockPath(running), { countryCodes: "US,CA", limit: 99 });
    expect(repeated.items.map((i) => i.id)).toEqual(comma.items.map((i) => i.id));
    expect(new Set(repeated.items.map((i) => i.countryCode))).toEqual(new Set(["US", "CA"]));
  });

  it("filters by prefix, type and feature", async () => {
    const { items } = await listAll<NumberStockItem>(running, stockPath(running), {
      countryCodes: "US",
      prefix: "+1212",
      types: "local",
      features: ["sms-outbound", "voice-inbound"],
      limit: 99,
    });
    expect(items.length).toBeGreaterThan(10);
    for (const item of items) {
      expect(item.numberString).toMatch(/^\+1212\d{7}$/);
      expect(item.type).toBe("local");
      expect(item.capabilities.sms?.outbound).toBe(true);
    }
    const voiceOnly = await call<List<NumberStockItem>>(running, "GET", stockPath(running), {
      query: { countryCodes: "NL", types: "local", features: "sms-outbound" },
    });
    expect(voiceOnly.body.results).toEqual([]);
  });

  it("prices in EUR with exponent -6, some numbers dearer than the rest", async () => {
    const { items } = await listAll<NumberStockItem>(running, stockPath(running), {
      countryCodes: "GB",
      types: "mobile",
      limit: 99,
    });
    expect(items.every((i) => i.monthlyPrice.currencyCode === "EUR" && i.monthlyPrice.exponent === -6)).toBe(true);
    const amounts = new Set(items.map((i) => i.monthlyPrice.amount));
    expect(amounts.has(3_500_000)).toBe(true);
    expect(amounts.size).toBeGreaterThan(1);
  });

  it("returns test numbers only with testing=true", async () => {
    const testing = await listAll<NumberStockItem>(running, stockPath(running), {
      countryCodes: "US",
      testing: true,
      limit: 99,
    });
    expect(testing.items).toHaveLength(20);
    expect(testing.items.every((i) => i.numberString.startsWith("+1555") && i.monthlyPrice.amount === 0)).toBe(true);
    const normal = await listAll<NumberStockItem>(running, stockPath(running), { countryCodes: "US", prefix: "+1555" });
    expect(normal.items).toEqual([]);
  });

  it("refuses prefix without countryCodes", async () => {
    const answer = await call<ErrorBody>(running, "GET", stockPath(running), { query: { prefix: "+1212" } });
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ code: "invalid-filter", details: { field: "prefix" } });
    expect(answer.body.message).toContain("countryCodes");
  });

  it.each([
    ["limit 0", { limit: 0 }, "limit"],
    ["limit 100", { limit: 100 }, "limit"],
    ["a limit that is no number", { limit: "ten" }, "limit"],
    ["a lower-case country", { countryCodes: "nl" }, "countryCodes[0]"],
    ["an unknown type", { types: "landline" }, "types[0]"],
    ["an unknown feature", { features: "fax-outbound" }, "features[0]"],
    ["a testing flag that is no boolean", { testing: "maybe" }, "testing"],
    ["a page token over 8000 characters", { pageToken: "x".repeat(8001) }, "pageToken"],
  ])("answers 422 naming the field for %s", async (_, query, field) => {
    const answer = await call<ErrorBody>(running, "GET", stockPath(running), { query });
    expect(answer.status).toBe(422);
    expect(answer.body.code).toBe("invalid-request");
    expect(answer.body.details?.errors).toEqual([expect.objectContaining({ in: "query", field })]);
  });

  it("refuses a page token it did not issue, or one from another list", async () => {
    const garbage = await call<ErrorBody>(running, "GET", stockPath(running), { query: { pageToken: "not-a-token" } });
    expect(garbage.status).toBe(422);
    expect(garbage.body.code).toBe("invalid-page-token");
    const numbers = await call<List<unknown>>(
      running,
      "GET",
      `/workspaces/${running.sim.identity.workspaceId}/numbers-alpha`,
      {
        query: { limit: 1 },
      },
    );
    const foreign = await call<ErrorBody>(running, "GET", stockPath(running), {
      query: { pageToken: numbers.body.nextPageToken ?? "" },
    });
    expect(foreign.status).toBe(422);
  });

  it("generates the same stock on every start", async () => {
    const other = await startTestSimulator();
    try {
      const first = await call<List<NumberStockItem>>(running, "GET", stockPath(running), {
        query: { countryCodes: "DE", limit: 5 },
      });
      const second = await call<List<NumberStockItem>>(other, "GET", stockPath(other), {
        query: { countryCodes: "DE", limit: 5 },
      });
      expect(second.body.results).toEqual(first.body.results);
    } finally {
      expectNoViolations(other);
      await other.close();
    }
  });

  it("lets config add countries and set counts", async () => {
    const other = await startTestSimulator({
      config: {
        stock: {
          countPerType: 5,
          countries: {
            BE: {
              callingCode: "32",
              nationalLength: 9,
              count: 7,
              types: { mobile: { prefixes: ["+3247"], monthlyPrice: 2.25 } },
            },
          },
        },
      },
    });
    try {
      const stock = other.sim.snapshot(false).organizations[0]?.stock.byCountry;
      expect(stock?.BE).toEqual({ mobile: 7 });
      expect(stock?.US).toEqual({ local: 5, "toll-free": 5 });
    } finally {
      await other.close();
    }
  });
});
