import { describe, expect, it } from "vitest";
import { BirdApiError, createWorkspaceRateLimiter, routeMatcher, type BirdObserver } from "../../src/bird/index.js";
import { createRetryingFetch } from "../../src/bird/transport.js";
import { fetchSend } from "../../src/bird/http-send.js";
import { birdError, capturingLogger, fakeFetch, json, numberFixture, rejectionOf, testClient } from "./helpers.js";

const BUY_ROUTE = "/workspaces/{workspaceId}/numbers-long-code";
const STOCK_ID = "9c1e4b0a-0000-4000-8000-000000000001";

type RequestEvent = Parameters<NonNullable<BirdObserver["request"]>>[0];

function recordingObserver(): { observer: BirdObserver; events: RequestEvent[] } {
  const events: RequestEvent[] = [];
  return { observer: { request: (e) => events.push(e) }, events };
}

const never = (): Promise<Response> => new Promise<Response>(() => undefined);

function networkError(code: string): TypeError {
  return new TypeError("fetch failed", { cause: Object.assign(new Error(`socket: ${code}`), { code }) });
}

describe("retries of safe calls", () => {
  it("retries 503 until Bird answers, reporting every attempt under the route template", async () => {
    const { fetch, requests } = fakeFetch((_, call) =>
      call < 3 ? birdError(503, "unavailable", "later") : json(200, numberFixture("n-123")),
    );
    const { observer, events } = recordingObserver();
    const number = await testClient(fetch, { observer }).getNumber("n-123");
    expect(number.id).toBe("n-123");
    expect(requests).toHaveLength(3);
    expect(events.map((e) => [e.method, e.route, e.status, e.attempt])).toEqual([
      ["GET", "/workspaces/{workspaceId}/numbers-long-code/{longCodeNumberId}", 503, 1],
      ["GET", "/workspaces/{workspaceId}/numbers-long-code/{longCodeNumberId}", 503, 2],
      ["GET", "/workspaces/{workspaceId}/numbers-long-code/{longCodeNumberId}", 200, 3],
    ]);
    expect(events.every((e) => e.seconds >= 0 && e.seconds < 1)).toBe(true);
  });

  it("honours Retry-After on a 429", async () => {
    const { fetch, requests } = fakeFetch((_, call) =>
      call === 1
        ? birdError(429, "too-many-requests", "slow down", { "retry-after": "1" })
        : json(200, { results: [] }),
    );
    const started = performance.now();
    await testClient(fetch, { backoff: { baseMs: 1, maxMs: 2_000 } }).listNumbers();
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(requests).toHaveLength(2);
  });

  it.each([500, 502, 504])("retries %i", async (status) => {
    const { fetch, requests } = fakeFetch((_, call) =>
      call === 1 ? birdError(status, "oops", "oops") : json(200, { results: [] }),
    );
    await testClient(fetch).listNumbers();
    expect(requests).toHaveLength(2);
  });

  it("does not retry a 4xx other than 429", async () => {
    const { fetch, requests } = fakeFetch(() => birdError(422, "invalid", "bad filter"));
    await expect(testClient(fetch).searchStock({ prefix: "+1" })).rejects.toThrow(BirdApiError);
    expect(requests).toHaveLength(1);
  });

  it("gives up after maxAttempts with the last answer", async () => {
    const { fetch, requests } = fakeFetch(() => birdError(500, "internal", "boom"));
    const error = (await rejectionOf(testClient(fetch, { maxAttempts: 3 }).listNumbers())) as BirdApiError;
    expect(requests).toHaveLength(3);
    expect([error.status, error.kind, error.code]).toEqual([500, "transient", "internal"]);
  });

  it("retries network errors, then fails with a status-0 transient error carrying the cause", async () => {
    const cause = networkError("ECONNRESET");
    const { fetch, requests } = fakeFetch(() => {
      throw cause;
    });
    const error = (await rejectionOf(testClient(fetch, { maxAttempts: 3 }).listNumbers())) as BirdApiError;
    expect(requests).toHaveLength(3);
    expect(error).toBeInstanceOf(BirdApiError);
    expect([error.status, error.kind, error.ambiguous]).toEqual([0, "transient", false]);
    expect(error.cause).toBe(cause);
    expect(error.message).toBe(
      "Bird GET /workspaces/{workspaceId}/numbers-long-code failed with a network error (ECONNRESET) after 3 attempts",
    );
  });

  it("recovers from a network error", async () => {
    const { fetch, requests } = fakeFetch((_, call) => {
      if (call === 1) throw networkError("ECONNREFUSED");
      return json(200, { results: [] });
    });
    await testClient(fetch).listNumbers();
    expect(requests).toHaveLength(2);
  });

  it("times out an attempt whose fetch never answers, even when fetch ignores the abort signal", async () => {
    const { fetch, requests } = fakeFetch(never);
    const { observer, events } = recordingObserver();
    const error = (await rejectionOf(
      testClient(fetch, { timeoutMs: 50, maxAttempts: 2, observer }).listNumbers(),
    )) as BirdApiError;
    expect(requests).toHaveLength(2);
    expect([error.status, error.kind]).toEqual([0, "transient"]);
    expect(error.message).toBe(
      "Bird GET /workspaces/{workspaceId}/numbers-long-code timed out (50 ms per attempt) after 2 attempts",
    );
    expect(events.map((e) => e.status)).toEqual(["error", "error"]);
  });

  it("counts a body that never finishes against the attempt's deadline", async () => {
    const stalled = (): Response =>
      new Response(new ReadableStream({ start: (c): void => c.enqueue(new TextEncoder().encode('{"results":')) }), {
        status: 200,
      });
    const { fetch, requests } = fakeFetch((_, call) => (call === 1 ? stalled() : json(200, { results: [] })));
    await testClient(fetch, { timeoutMs: 50 }).listNumbers();
    expect(requests).toHaveLength(2);
  });

  it("sends a fresh Request with the same body and headers on every attempt", async () => {
    const { fetch, requests } = fakeFetch((_, call) =>
      call === 1 ? birdError(503, "unavailable", "later") : json(200, { results: [{ countryCode: "NL" }] }),
    );
    await testClient(fetch).deactivateDestinations("ep1", "sms", ["NL", "BE"]);
    expect(requests).toHaveLength(2);
    expect(requests[0]?.request === requests[1]?.request).toBe(false);
    expect(requests[1]?.body).toBe(requests[0]?.body);
    expect(JSON.parse(requests[1]?.body ?? "")).toEqual({ capability: "sms", countryCodes: ["NL", "BE"] });
    expect(requests[1]?.authorization).toBe(requests[0]?.authorization);
  });

  it("stops at once when the caller aborts, with the caller's reason", async () => {
    const { fetch, requests } = fakeFetch(never);
    const client = testClient(fetch, { timeoutMs: 5_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("shutting down")), 20);
    const error = await rejectionOf(
      client.raw.GET("/workspaces/{workspaceId}/numbers-alpha", {
        params: { path: { workspaceId: client.workspaceId } },
        signal: controller.signal,
      }),
    );
    expect(error).toEqual(new Error("shutting down"));
    expect(requests).toHaveLength(1);
  });

  it("does not send a request whose caller gave up while it waited for a rate-limit token", async () => {
    const { fetch, requests } = fakeFetch(() => json(200, { results: [] }));
    const client = testClient(fetch, { rateLimits: { getPerSecond: 5, getBurst: 1 } });
    await client.listAlphaNumbers();
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("gave up")), 20);
    const path = { workspaceId: client.workspaceId };
    await expect(
      client.raw.GET("/workspaces/{workspaceId}/numbers-alpha", { params: { path }, signal: controller.signal }),
    ).rejects.toThrow("gave up");
    expect(requests).toHaveLength(1);
  });

  it("keeps working when an observer throws", async () => {
    const { fetch } = fakeFetch(() => json(200, { results: [] }));
    const observer: BirdObserver = {
      request: () => {
        throw new Error("metrics broke");
      },
      rateLimitWait: () => {
        throw new Error("metrics broke");
      },
    };
    await expect(testClient(fetch, { observer }).listNumbers()).resolves.toEqual({ results: [] });
  });
});

describe("buying numbers is never repeated on an unclear outcome", () => {
  const buy = (fetchFn: typeof fetch, timeoutMs = 1_000): Promise<unknown> =>
    testClient(fetchFn, { timeoutMs }).buyNumbers([STOCK_ID]);

  it.each([
    {
      reason: "503",
      answer: (): Promise<Response> => Promise.resolve(birdError(503, "unavailable", "later")),
      status: 503,
    },
    {
      reason: "500",
      answer: (): Promise<Response> => Promise.resolve(birdError(500, "internal", "boom")),
      status: 500,
    },
  ])(
    "$reason: one attempt, a transient error that says Bird did not process it (not ambiguous)",
    async ({ answer, status }) => {
      const { fetch, requests } = fakeFetch(answer);
      const error = (await rejectionOf(buy(fetch, 50))) as BirdApiError;
      expect(requests).toHaveLength(1);
      expect([error.status, error.kind, error.ambiguous, error.serverError, error.method, error.route]).toEqual([
        status,
        "transient",
        false,
        true,
        "POST",
        BUY_ROUTE,
      ]);
      expect(error.message).toMatch(/\(not processed: Bird documents a 5xx as safe to repeat after a delay\)$/);
    },
  );

  it.each([
    {
      reason: "a proxy's 502",
      answer: (): Promise<Response> => Promise.resolve(new Response("bad gateway", { status: 502 })),
      status: 502,
    },
    {
      reason: "a load balancer's 504",
      answer: (): Promise<Response> => Promise.resolve(new Response("", { status: 504 })),
      status: 504,
    },
  ])(
    "$reason (a 5xx without Bird's error body): one attempt, ambiguous, since it may have been passed on to Bird",
    async ({ answer, status }) => {
      const { fetch, requests } = fakeFetch(answer);
      const error = (await rejectionOf(buy(fetch, 50))) as BirdApiError;
      expect(requests).toHaveLength(1);
      expect([error.status, error.kind, error.ambiguous, error.method, error.route]).toEqual([
        status,
        "transient",
        true,
        "POST",
        BUY_ROUTE,
      ]);
      expect(error.message).toMatch(/the request may have taken effect/);
    },
  );

  it.each([
    {
      reason: "a network error",
      answer: (): Promise<Response> => Promise.reject(networkError("ECONNRESET")),
      status: 0,
    },
    { reason: "a timeout", answer: never, status: 0 },
    {
      reason: "a malformed 201",
      answer: (): Promise<Response> => Promise.resolve(new Response("{", { status: 201 })),
      status: 201,
    },
    { reason: "a 201 without results", answer: (): Promise<Response> => Promise.resolve(json(201, {})), status: 201 },
  ])("$reason: one attempt, an ambiguous transient error", async ({ answer, status }) => {
    const { fetch, requests } = fakeFetch(answer);
    const error = (await rejectionOf(buy(fetch, 50))) as BirdApiError;
    expect(requests).toHaveLength(1);
    expect(error).toBeInstanceOf(BirdApiError);
    expect([error.status, error.kind, error.ambiguous, error.serverError, error.method, error.route]).toEqual([
      status,
      "transient",
      true,
      false,
      "POST",
      BUY_ROUTE,
    ]);
    expect(error.message).toMatch(/the request may have taken effect/);
  });

  it("retries a 429, which Bird did not process", async () => {
    const { fetch, requests } = fakeFetch((_, call) =>
      call < 3 ? birdError(429, "too-many-requests", "slow down") : json(201, { results: [numberFixture("n1")] }),
    );
    const bought = (await buy(fetch)) as { id: string }[];
    expect(bought.map((n) => n.id)).toEqual(["n1"]);
    expect(requests).toHaveLength(3);
    expect(requests.every((r) => JSON.parse(r.body) !== null)).toBe(true);
  });

  it("does not call a final 429 ambiguous", async () => {
    const { fetch, requests } = fakeFetch(() => birdError(429, "too-many-requests", "slow down"));
    const error = (await rejectionOf(testClient(fetch, { maxAttempts: 2 }).buyNumbers([STOCK_ID]))) as BirdApiError;
    expect(requests).toHaveLength(2);
    expect([error.status, error.kind, error.ambiguous]).toEqual([429, "transient", false]);
  });

  it("retries the other writes, which are idempotent", async () => {
    const { fetch, requests } = fakeFetch((_, call) =>
      call === 1 ? birdError(503, "unavailable", "later") : json(200, { name: "main", status: "inactive" }),
    );
    await testClient(fetch).cancelSubscription("ep1", "main");
    expect(requests).toHaveLength(2);
  });
});

describe("transport details", () => {
  it("uses full jitter: a uniform delay below min(maxMs, baseMs * 2^(attempt-1))", async () => {
    const { logger, lines } = capturingLogger();
    const { fetch } = fakeFetch(() => birdError(503, "unavailable", "later"));
    const transport = createRetryingFetch({
      send: fetchSend(fetch),
      limiter: createWorkspaceRateLimiter(),
      routeOf: routeMatcher("https://bird.test"),
      timeoutMs: 1_000,
      maxAttempts: 5,
      backoff: { baseMs: 10, maxMs: 25 },
      logger,
      random: () => 0.5,
    });
    const response = await transport(new Request("https://bird.test/workspaces/w/numbers-alpha"));
    expect(response.status).toBe(503);
    const delays = lines
      .map((l) => JSON.parse(l) as { msg: string; delayMs?: number })
      .filter((l) => l.msg === "Retrying Bird API call");
    expect(delays.map((l) => l.delayMs)).toEqual([5, 10, 12, 12]);
  });

  it("labels routes by template under a base URL with a path, and anything unknown as 'unknown'", () => {
    const routeOf = routeMatcher("http://127.0.0.1:8080/bird/");
    expect(routeOf("http://127.0.0.1:8080/bird/workspaces/w1/numbers-long-code/abc")).toBe(
      "/workspaces/{workspaceId}/numbers-long-code/{longCodeNumberId}",
    );
    expect(routeOf("http://127.0.0.1:8080/bird/workspaces/w1/endpoints/e1/subscriptions/main/cancel")).toBe(
      "/workspaces/{workspaceId}/endpoints/{endpointId}/subscriptions/{subscriptionName}/cancel",
    );
    expect(routeOf("http://127.0.0.1:8080/bird/organizations/o1/numbers-stock-items?limit=5")).toBe(
      "/organizations/{organizationId}/numbers-stock-items",
    );
    expect(routeOf("http://127.0.0.1:8080/workspaces/w1/numbers-alpha")).toBe("unknown");
    expect(routeOf("http://127.0.0.1:8080/bird/workspaces/w1/something-else")).toBe("unknown");
  });

  it("calls a base URL with a path prefix", async () => {
    const { fetch, requests } = fakeFetch(() => json(200, { results: [] }));
    const { observer, events } = recordingObserver();
    const client = testClient(fetch, { baseUrl: "https://bird.test/proxy/v1/", observer });
    await client.listSubscriptions("ep1");
    expect(requests[0]?.path).toBe(`/proxy/v1/workspaces/${client.workspaceId}/endpoints/ep1/subscriptions`);
    expect(events[0]?.route).toBe("/workspaces/{workspaceId}/endpoints/{endpointId}/subscriptions");
  });

  it("refuses a maxAttempts below one", () => {
    expect(() => testClient(fakeFetch(() => json(200, {})).fetch, { maxAttempts: 0 })).toThrow(RangeError);
  });
});
