import { createServer } from "node:net";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { BirdApiError, createBirdClient, type BirdClient } from "../../src/bird/index.js";
import {
  birdError,
  capturingLogger,
  fakeFetch,
  json,
  numberFixture,
  ORG,
  rejectionOf,
  SECRET,
  testClient,
  uniqueWorkspace,
  type Handler,
} from "./helpers.js";

/** Bird echoing the key back is unlikely, but the guarantee must not depend on Bird's manners. */
const echoingUnauthorized: Handler = (r) =>
  json(401, {
    code: "unauthorized",
    message: `Access key ${SECRET} is invalid`,
    details: { header: r.authorization, keys: [SECRET] },
  });

const scenarios: { reason: string; handler: Handler; call: (c: BirdClient) => Promise<unknown> }[] = [
  { reason: "success", handler: () => json(200, { results: [numberFixture("n1")] }), call: (c) => c.listNumbers() },
  { reason: "401 echoing the key", handler: echoingUnauthorized, call: (c) => c.getNumber("n1") },
  { reason: "403", handler: () => birdError(403, "forbidden", "no"), call: (c) => c.listSubscriptions("e") },
  {
    reason: "503 retried to the end",
    handler: () => birdError(503, "unavailable", "later"),
    call: (c) => c.listNumbers(),
  },
  {
    reason: "network error",
    handler: () => {
      throw new TypeError("fetch failed", {
        cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
      });
    },
    call: (c) => c.listNumbers(),
  },
  { reason: "timeout", handler: () => new Promise<Response>(() => undefined), call: (c) => c.listNumbers() },
  { reason: "malformed body", handler: () => new Response("<html>", { status: 200 }), call: (c) => c.listNumbers() },
  { reason: "buy answered 500", handler: () => birdError(500, "internal", "boom"), call: (c) => c.buyNumbers(["s1"]) },
  {
    reason: "error inside a 200 activate",
    handler: () => json(200, { error: { code: "x", message: `bad key ${SECRET}` } }),
    call: (c) => c.activateDestinations("e", "sms", ["NL"]),
  },
];

describe("the access key never leaks", () => {
  it.each(scenarios)(
    "$reason: the key is sent, yet absent from every log line and from the error",
    async ({ handler, call }) => {
      const { logger, lines } = capturingLogger();
      const { fetch, requests } = fakeFetch(handler);
      const client = testClient(fetch, { logger, timeoutMs: 30, maxAttempts: 2 });
      const error = await call(client).then(
        () => undefined,
        (e: unknown) => e,
      );

      expect(requests[0]?.authorization).toBe(`AccessKey ${SECRET}`);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        expect(line).not.toContain(SECRET);
      }
      if (error !== undefined) {
        expect(error).toBeInstanceOf(BirdApiError);
        expect(inspect(error, { depth: Infinity, showHidden: true })).not.toContain(SECRET);
        expect(JSON.stringify(error)).not.toContain(SECRET);
      }
    },
  );

  it("redacts an echoed key from Bird's message and details but keeps the rest", async () => {
    const { fetch } = fakeFetch(echoingUnauthorized);
    const error = (await rejectionOf(testClient(fetch).getNumber("n1"))) as BirdApiError;
    expect(error.kind).toBe("unauthorized");
    expect(error.birdMessage).toBe("Access key [redacted] is invalid");
    expect(error.details).toEqual({ header: "AccessKey [redacted]", keys: ["[redacted]"] });
  });

  it("redacts a key rotated away while its request was out, which Bird echoes back", async () => {
    const OLD = "sk_live_0ldKeyRotatedAwayMidFlight1";
    let current = OLD;
    const { fetch, requests } = fakeFetch((r) => {
      current = SECRET; // the Secret was rotated while Bird handled the request
      return json(401, {
        code: "unauthorized",
        message: `Access key ${r.authorization?.replace("AccessKey ", "") ?? ""} is invalid`,
      });
    });
    const client = testClient(fetch, { accessKey: () => current, maxAttempts: 1 });
    const error = (await rejectionOf(client.getNumber("n1"))) as BirdApiError;
    expect(requests[0]?.authorization).toBe(`AccessKey ${OLD}`);
    expect(error.birdMessage).toBe("Access key [redacted] is invalid");
    expect(inspect(error, { depth: Infinity, showHidden: true })).not.toContain(OLD);
  });

  it("a real connection error, cause chain included, does not carry the key", async () => {
    const port = await closedPort();
    const { logger, lines } = capturingLogger();
    const client = createBirdClient({
      baseUrl: `http://127.0.0.1:${port}`,
      organizationId: ORG,
      workspaceId: uniqueWorkspace(),
      accessKey: () => SECRET,
      maxAttempts: 2,
      backoff: { baseMs: 1, maxMs: 5 },
      logger,
    });
    const error = (await rejectionOf(client.listNumbers())) as BirdApiError;
    expect(error).toBeInstanceOf(BirdApiError);
    expect([error.status, error.kind]).toEqual([0, "transient"]);
    expect(error.message).toMatch(/failed with a network error \(ECONNREFUSED\) after 2 attempts$/);
    expect((error.cause as NodeJS.ErrnoException).code).toBe("ECONNREFUSED");
    expect(inspect(error, { depth: Infinity, showHidden: true })).not.toContain(SECRET);
    for (const line of lines) {
      expect(line).not.toContain(SECRET);
    }
  });
});

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") {
    throw new Error("no port");
  }
  return address.port;
}
