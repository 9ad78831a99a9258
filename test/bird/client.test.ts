import { describe, expect, it } from "vitest";
import { BirdApiError, paginate, type BirdErrorKind, type Page } from "../../src/bird/index.js";
import { birdError, fakeFetch, json, numberFixture, ORG, rejectionOf, SECRET, testClient } from "./helpers.js";

const STOCK_ITEM = {
  id: "9c1e4b0a-0000-4000-8000-000000000001",
  countryCode: "NL",
  type: "mobile",
  numberString: "+31612345678",
  capabilities: { sms: { inbound: true, outbound: true } },
  monthlyPrice: { currencyCode: "EUR", amount: 3500000, exponent: -6 },
};
const SUBSCRIPTION = { name: "main", status: "active", price: { currencyCode: "EUR", amount: 1, exponent: 0 } };

describe("requests", () => {
  it("sends the access key and Accept header on every call", async () => {
    const { fetch, requests } = fakeFetch(() => json(200, { results: [] }));
    const client = testClient(fetch);
    await client.listNumbers();
    await client.searchStock({});
    for (const r of requests) {
      expect(r.authorization).toBe(`AccessKey ${SECRET}`);
      expect(r.request.headers.get("accept")).toBe("application/json");
    }
  });

  it("reads a key function on every request, so a rotated Secret is used at once, trimmed of its newline", async () => {
    let key = "first-key\n";
    const { fetch, requests } = fakeFetch(() => json(200, { results: [] }));
    const client = testClient(fetch, { accessKey: () => key });
    await client.listNumbers();
    key = "second-key";
    await client.listNumbers();
    expect(requests.map((r) => r.authorization)).toEqual(["AccessKey first-key", "AccessKey second-key"]);
  });

  it.each([
    { reason: "empty", key: "", want: /access key is empty/ },
    { reason: "not a header value", key: "abc\u0000def", want: /access key is not a valid header value/ },
  ])("refuses to send with a key that is $reason, without quoting it", async ({ key, want }) => {
    const { fetch, requests } = fakeFetch(() => json(200, { results: [] }));
    const error = await rejectionOf(testClient(fetch, { accessKey: key }).listNumbers());
    expect(error).toBeInstanceOf(BirdApiError);
    expect((error as BirdApiError).kind).toBe("unauthorized");
    expect((error as BirdApiError).message).toMatch(want);
    expect((error as BirdApiError).message).not.toContain("abc");
    expect(requests).toHaveLength(0);
  });

  it("searches stock with form-exploded arrays, at organization level", async () => {
    const { fetch, requests } = fakeFetch(() => json(200, { results: [STOCK_ITEM], nextPageToken: "next" }));
    const page = await testClient(fetch).searchStock(
      { countryCodes: ["US", "CA"], prefix: "+1212", types: ["local"], features: ["sms-outbound"], testing: true },
      { limit: 5, pageToken: "tok" },
    );
    expect(page).toEqual({ results: [STOCK_ITEM], nextPageToken: "next" });
    const r = requests[0];
    expect(r?.method).toBe("GET");
    expect(r?.path).toBe(`/organizations/${ORG}/numbers-stock-items`);
    expect(r?.url.searchParams.getAll("countryCodes")).toEqual(["US", "CA"]);
    expect(Object.fromEntries([...(r?.url.searchParams ?? [])].filter(([k]) => k !== "countryCodes"))).toEqual({
      prefix: "+1212",
      types: "local",
      features: "sms-outbound",
      testing: "true",
      limit: "5",
      pageToken: "tok",
    });
  });

  it("buys with a JSON body and returns the numbers", async () => {
    const { fetch, requests } = fakeFetch(() => json(201, { results: [numberFixture("n1")] }));
    const client = testClient(fetch);
    const bought = await client.buyNumbers([STOCK_ITEM.id]);
    expect(bought.map((n) => n.id)).toEqual(["n1"]);
    expect(requests[0]?.method).toBe("POST");
    expect(requests[0]?.path).toBe(`/workspaces/${client.workspaceId}/numbers-long-code`);
    expect(requests[0]?.request.headers.get("content-type")).toBe("application/json");
    expect(JSON.parse(requests[0]?.body ?? "")).toEqual({ numberStockItemIds: [STOCK_ITEM.id] });
  });

  it.each([
    {
      reason: "buy nothing",
      call: (c: ReturnType<typeof testClient>) => c.buyNumbers([]),
      want: /buyNumbers takes 1 to 25/,
    },
    {
      reason: "buy 26",
      call: (c: ReturnType<typeof testClient>) => c.buyNumbers(Array(26).fill("x") as string[]),
      want: /got 26/,
    },
    {
      reason: "activate none",
      call: (c: ReturnType<typeof testClient>) => c.activateDestinations("e", "sms", []),
      want: /1 to 100/,
    },
    {
      reason: "activate 101",
      call: (c: ReturnType<typeof testClient>) => c.activateDestinations("e", "sms", Array(101).fill("NL") as string[]),
      want: /got 101/,
    },
    {
      reason: "deactivate 26",
      call: (c: ReturnType<typeof testClient>) =>
        c.deactivateDestinations("e", "sms", Array(26).fill("NL") as string[]),
      want: /deactivateDestinations takes 1 to 25/,
    },
    {
      reason: "get number ..",
      call: (c: ReturnType<typeof testClient>) => c.getNumber(".."),
      want: /Invalid number id/,
    },
  ])("refuses to $reason before calling Bird", async ({ call, want }) => {
    const { fetch, requests } = fakeFetch(() => json(200, {}));
    await expect(call(testClient(fetch))).rejects.toThrow(want);
    expect(requests).toHaveLength(0);
  });

  it("lists numbers with the query, and gets one by id (encoded)", async () => {
    const { fetch, requests } = fakeFetch((r) =>
      r.path.endsWith("numbers-long-code")
        ? json(200, { results: [numberFixture("n1")] })
        : json(200, numberFixture("a/b")),
    );
    const client = testClient(fetch);
    await client.listNumbers({ numberString: "+3161", countryCodes: ["NL"], reverse: true }, { limit: 20 });
    const number = await client.getNumber("a/b");
    expect(number.id).toBe("a/b");
    expect(requests[0]?.url.search).toBe("?numberString=%2B3161&countryCodes=NL&reverse=true&limit=20");
    expect(requests[1]?.path).toBe(`/workspaces/${client.workspaceId}/numbers-long-code/a%2Fb`);
  });

  it("lists and gets alphanumeric senders", async () => {
    const alpha = { id: "al1", endpointId: "al1", alphaString: "ACME", createdAt: "x", updatedAt: "x" };
    const { fetch, requests } = fakeFetch((r) =>
      r.path.endsWith("numbers-alpha") ? json(200, { results: [alpha] }) : json(200, alpha),
    );
    const client = testClient(fetch);
    expect((await client.listAlphaNumbers({ limit: 3, reverse: true })).results).toEqual([alpha]);
    expect(await client.getAlphaNumber("al1")).toEqual(alpha);
    expect(requests[0]?.url.search).toBe("?limit=3&reverse=true");
    expect(requests[1]?.path).toBe(`/workspaces/${client.workspaceId}/numbers-alpha/al1`);
  });

  it("activates destinations, validating only when asked", async () => {
    const prices = { NL: { currencyCode: "EUR", amount: 1, exponent: 0 } };
    const { fetch, requests } = fakeFetch((r) =>
      r.url.searchParams.get("validate") === "true"
        ? json(200, { subscriptionPrices: prices })
        : json(200, { results: [{ countryCode: "NL", name: "NL" }] }),
    );
    const client = testClient(fetch);
    expect(await client.activateDestinations("ep1", "sms", ["NL"], { validate: true })).toEqual({
      subscriptionPrices: prices,
      results: undefined,
    });
    expect((await client.activateDestinations("ep1", "sms", ["NL"])).results).toEqual([
      { countryCode: "NL", name: "NL" },
    ]);
    expect(requests[0]?.path).toBe(`/workspaces/${client.workspaceId}/endpoints/ep1/destinations/activate`);
    expect(requests[1]?.url.search).toBe("");
    expect(JSON.parse(requests[1]?.body ?? "")).toEqual({ capability: "sms", countryCodes: ["NL"] });
  });

  it("turns an error inside a 200 activate answer into a permanent BirdApiError", async () => {
    const { fetch } = fakeFetch(() =>
      json(200, {
        error: { code: "destination-not-allowed", message: "NL needs a registration", details: { country: "NL" } },
      }),
    );
    const error = (await rejectionOf(testClient(fetch).activateDestinations("ep1", "sms", ["NL"]))) as BirdApiError;
    expect(error).toBeInstanceOf(BirdApiError);
    expect(error.kind).toBe("permanent");
    expect(error.code).toBe("destination-not-allowed");
    expect(error.details).toEqual({ country: "NL" });
    expect(error.message).toBe(
      "Bird POST /workspaces/{workspaceId}/endpoints/{endpointId}/destinations/activate answered 200 " +
        "destination-not-allowed: NL needs a registration",
    );
  });

  it("deactivates destinations and returns them", async () => {
    const destination = { countryCode: "NL", name: "NL", immutable: false };
    const { fetch, requests } = fakeFetch(() => json(200, { results: [destination] }));
    const client = testClient(fetch);
    expect(await client.deactivateDestinations("ep1", "sms", ["NL"])).toEqual([destination]);
    expect(requests[0]?.path).toBe(`/workspaces/${client.workspaceId}/endpoints/ep1/destinations/deactivate`);
  });

  it("lists, gets and cancels subscriptions", async () => {
    const { fetch, requests } = fakeFetch((r) =>
      r.path.endsWith("/subscriptions") ? json(200, { results: [SUBSCRIPTION] }) : json(200, SUBSCRIPTION),
    );
    const client = testClient(fetch);
    expect(await client.listSubscriptions("ep1")).toEqual([SUBSCRIPTION]);
    expect(await client.getSubscription("ep1", "main")).toEqual(SUBSCRIPTION);
    expect(await client.cancelSubscription("ep1", "NL")).toEqual(SUBSCRIPTION);
    const base = `/workspaces/${client.workspaceId}/endpoints/ep1/subscriptions`;
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${base}`,
      `GET ${base}/main`,
      `POST ${base}/NL/cancel`,
    ]);
  });

  it("keeps the typed openapi-fetch client available as raw, with auth", async () => {
    const { fetch, requests } = fakeFetch(() => json(200, { results: [] }));
    const client = testClient(fetch);
    const { data } = await client.raw.GET("/workspaces/{workspaceId}/numbers-alpha", {
      params: { path: { workspaceId: client.workspaceId } },
    });
    expect(data).toEqual({ results: [] });
    expect(requests[0]?.authorization).toBe(`AccessKey ${SECRET}`);
  });
});

describe("errors", () => {
  it.each<{ status: number; kind: BirdErrorKind }>([
    { status: 400, kind: "permanent" },
    { status: 401, kind: "unauthorized" },
    { status: 403, kind: "forbidden" },
    { status: 404, kind: "not-found" },
    { status: 409, kind: "permanent" },
    { status: 422, kind: "permanent" },
    { status: 429, kind: "transient" },
    { status: 500, kind: "transient" },
    { status: 503, kind: "transient" },
  ])("$status is a $kind BirdApiError with Bird's code and message", async ({ status, kind }) => {
    const { fetch, requests } = fakeFetch(() => birdError(status, "some-code", "Something happened"));
    const error = (await rejectionOf(testClient(fetch, { maxAttempts: 1 }).getNumber("n1"))) as BirdApiError;
    expect(error).toBeInstanceOf(BirdApiError);
    expect({ status: error.status, kind: error.kind, code: error.code, birdMessage: error.birdMessage }).toEqual({
      status,
      kind,
      code: "some-code",
      birdMessage: "Something happened",
    });
    expect(error.method).toBe("GET");
    expect(error.route).toBe("/workspaces/{workspaceId}/numbers-long-code/{longCodeNumberId}");
    expect(error.message).toBe(
      `Bird GET /workspaces/{workspaceId}/numbers-long-code/{longCodeNumberId} answered ${status} some-code: ` +
        "Something happened",
    );
    expect(error.ambiguous).toBe(false);
    expect(requests).toHaveLength(1);
  });

  it("formats a buy refusal as documented and does not call it ambiguous", async () => {
    const { fetch } = fakeFetch(() =>
      birdError(422, "stock-item-unavailable", "The stock item is no longer available"),
    );
    const error = (await rejectionOf(testClient(fetch).buyNumbers([STOCK_ITEM.id]))) as BirdApiError;
    expect(error.message).toBe(
      "Bird POST /workspaces/{workspaceId}/numbers-long-code answered 422 stock-item-unavailable: " +
        "The stock item is no longer available",
    );
    expect(error.ambiguous).toBe(false);
  });

  it("copes with an error body that is not Bird's error object", async () => {
    const { fetch } = fakeFetch(() => new Response("<html>Bad gateway</html>", { status: 502 }));
    const error = (await rejectionOf(testClient(fetch, { maxAttempts: 1 }).listNumbers())) as BirdApiError;
    expect(error.message).toBe("Bird GET /workspaces/{workspaceId}/numbers-long-code answered 502");
    expect(error.code).toBeUndefined();
    expect(error.kind).toBe("transient");
  });

  it.each([
    { reason: "not JSON", body: "{not json", call: "listNumbers", problem: "empty or not JSON" },
    { reason: "empty", body: "", call: "listNumbers", problem: "empty or not JSON" },
    { reason: "results missing", body: "{}", call: "listNumbers", problem: "results is missing or not an array" },
    {
      reason: "results not an array",
      body: '{"results":{}}',
      call: "listSubscriptions",
      problem: "results is missing",
    },
    {
      reason: "an item without id",
      body: '{"results":[{"id":"a"},{}]}',
      call: "listNumbers",
      problem: "results[1]: id is missing or not a string",
    },
    { reason: "an array for an object", body: "[]", call: "getNumber", problem: "expected a JSON object" },
    {
      reason: "a bad page token",
      body: '{"results":[],"nextPageToken":5}',
      call: "listNumbers",
      problem: "nextPageToken",
    },
    // Spend limits are checked against a quote: one without prices must never pass for "free".
    { reason: "a quote without prices", body: "{}", call: "quote", problem: "subscriptionPrices is missing" },
    {
      reason: "a quote whose prices are not an object",
      body: '{"subscriptionPrices":[]}',
      call: "quote",
      problem: "subscriptionPrices is not an object",
    },
  ])(
    "a 200 that is $reason is a transient 'malformed response body' error, never a crash",
    async ({ body, call, problem }) => {
      const { fetch } = fakeFetch(() => new Response(body, { status: 200 }));
      const client = testClient(fetch);
      const calls: Record<string, () => Promise<unknown>> = {
        listNumbers: () => client.listNumbers(),
        listSubscriptions: () => client.listSubscriptions("ep1"),
        getNumber: () => client.getNumber("n1"),
        quote: () => client.activateDestinations("ep1", "sms", ["NL"], { validate: true }),
      };
      const error = (await rejectionOf(calls[call]?.() ?? Promise.resolve())) as BirdApiError;
      expect(error).toBeInstanceOf(BirdApiError);
      expect(error.kind).toBe("transient");
      expect(error.status).toBe(200);
      expect(error.ambiguous).toBe(false);
      expect(error.message).toMatch(/returned a malformed response body \(200\)/);
      expect(error.message).toContain(problem);
    },
  );

  it("exposes Retry-After on the final error when Bird asks for a longer wait than we retry for", async () => {
    const { fetch, requests } = fakeFetch(() => birdError(429, "rate-limited", "Slow down", { "retry-after": "120" }));
    const error = (await rejectionOf(testClient(fetch).listNumbers())) as BirdApiError;
    expect(error.kind).toBe("transient");
    expect(error.retryAfterMs).toBe(120_000);
    expect(requests).toHaveLength(1);
  });
});

describe("pagination", () => {
  const pages: Record<string, { ids: string[]; next?: string }> = {
    "": { ids: ["n1", "n2"], next: "p2" },
    p2: { ids: ["n3"], next: "p3" },
    p3: { ids: ["n4", "n5"] },
  };

  it("walks nextPageToken to the end, 99 at a time", async () => {
    const { fetch, requests } = fakeFetch((r) => {
      const page = pages[r.url.searchParams.get("pageToken") ?? ""];
      return json(200, { results: page?.ids.map((id) => numberFixture(id)), nextPageToken: page?.next });
    });
    const ids: string[] = [];
    for await (const number of testClient(fetch).numbers({ countryCodes: ["NL"] })) ids.push(number.id);
    expect(ids).toEqual(["n1", "n2", "n3", "n4", "n5"]);
    expect(requests.map((r) => r.url.searchParams.get("limit"))).toEqual(["99", "99", "99"]);
    expect(requests.map((r) => r.url.searchParams.get("countryCodes"))).toEqual(["NL", "NL", "NL"]);
    expect(requests.map((r) => r.url.searchParams.get("pageToken"))).toEqual([null, "p2", "p3"]);
  });

  it("walks alpha senders and stock, and stops the stock walk at max without fetching more", async () => {
    const { fetch, requests } = fakeFetch((r) => {
      const token = r.url.searchParams.get("pageToken");
      if (r.path.endsWith("numbers-alpha")) {
        return json(200, token ? { results: [{ id: "a2" }] } : { results: [{ id: "a1" }], nextPageToken: "x" });
      }
      return json(200, { results: [STOCK_ITEM, STOCK_ITEM], nextPageToken: `t${requests.length}` });
    });
    const client = testClient(fetch);
    const alphas: string[] = [];
    for await (const alpha of client.alphaNumbers()) alphas.push(alpha.id);
    expect(alphas).toEqual(["a1", "a2"]);
    let count = 0;
    for await (const _ of client.stockItems({ countryCodes: ["NL"] }, { limit: 2, max: 3 })) count++;
    expect(count).toBe(3);
    expect(requests.filter((r) => r.path.endsWith("numbers-stock-items"))).toHaveLength(2);
  });

  it("fails instead of looping when a page token repeats", async () => {
    const { fetch, requests } = fakeFetch(() => json(200, { results: [numberFixture("n")], nextPageToken: "same" }));
    const error = await rejectionOf(
      (async (): Promise<void> => {
        for await (const _ of testClient(fetch).numbers()) {
          /* drain */
        }
      })(),
    );
    expect(error).toBeInstanceOf(BirdApiError);
    expect((error as BirdApiError).message).toMatch(/page token repeated/);
    expect(requests.length).toBe(2);
  });

  it("walks to the end when the last page says nextPageToken: null", async () => {
    const { fetch, requests } = fakeFetch((r) =>
      json(
        200,
        r.url.searchParams.has("pageToken")
          ? { results: [numberFixture("b")], nextPageToken: null }
          : { results: [numberFixture("a")], nextPageToken: "2" },
      ),
    );
    const ids: string[] = [];
    for await (const number of testClient(fetch).numbers()) ids.push(number.id);
    expect(ids).toEqual(["a", "b"]);
    expect(requests).toHaveLength(2);
  });

  it("paginate treats a missing or empty token as the last page", async () => {
    const seen: (string | undefined)[] = [];
    const fetchPage = (token?: string): Promise<Page<number>> => {
      seen.push(token);
      return Promise.resolve(
        token === undefined ? { results: [1, 2], nextPageToken: "b" } : { results: [3], nextPageToken: "" },
      );
    };
    const items: number[] = [];
    for await (const item of paginate(fetchPage)) items.push(item);
    expect(items).toEqual([1, 2, 3]);
    expect(seen).toEqual([undefined, "b"]);
  });
});
