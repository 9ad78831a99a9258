import { Writable } from "node:stream";
import { pino } from "pino";
import { createBirdClient, type BirdClient, type BirdClientOptions } from "../../src/bird/index.js";
import type { Logger } from "../../src/log.js";

export const BASE_URL = "https://bird.test";
export const ORG = "0b7d1c5e-0000-4000-8000-000000000001";
export const SECRET = "sk_live_Sup3rS3cretAcce55Key";

export interface Recorded {
  request: Request;
  method: string;
  url: URL;
  path: string;
  body: string;
  authorization: string | null;
}

export type Handler = (request: Recorded, call: number) => Response | Promise<Response>;

/** A fetch that records every request it receives and answers with `handler`; no module mocking needed. */
export function fakeFetch(handler: Handler): { fetch: typeof fetch; requests: Recorded[] } {
  const requests: Recorded[] = [];
  const fn = async (input: unknown): Promise<Response> => {
    if (!(input instanceof Request)) {
      throw new TypeError("the transport must hand fetch a Request");
    }
    const url = new URL(input.url);
    const recorded: Recorded = {
      request: input,
      method: input.method,
      url,
      path: url.pathname,
      body: input.body === null ? "" : await input.text(),
      authorization: input.headers.get("authorization"),
    };
    requests.push(recorded);
    return handler(recorded, requests.length);
  };
  return { fetch: fn, requests };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

export function birdError(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return json(status, { code, message }, headers);
}

let workspaceCounter = 0;

/** A unique workspace per client, so shared rate limiters never leak between tests. */
export function uniqueWorkspace(): string {
  workspaceCounter++;
  return `5f0c0a7e-0000-4000-8000-${String(workspaceCounter).padStart(12, "0")}`;
}

export function testClient(fetchFn: typeof fetch, overrides: Partial<BirdClientOptions> = {}): BirdClient {
  return createBirdClient({
    baseUrl: BASE_URL,
    organizationId: ORG,
    workspaceId: uniqueWorkspace(),
    accessKey: SECRET,
    rateLimits: { getPerSecond: 10_000, postPerSecond: 10_000 },
    backoff: { baseMs: 1, maxMs: 20 },
    timeoutMs: 1_000,
    ...overrides,
    fetch: fetchFn,
  });
}

/** A pino logger at the most verbose level whose every line lands in `lines`. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done): void {
      lines.push(
        ...chunk
          .toString("utf8")
          .split("\n")
          .filter((line) => line !== ""),
      );
      done();
    },
  });
  return { logger: pino({ level: "trace" }, stream), lines };
}

export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject");
}

export function numberFixture(id: string, numberString = "+31612345678"): Record<string, unknown> {
  return {
    id,
    endpointId: id,
    numberString,
    countryCode: "NL",
    type: "mobile",
    createdAt: "2026-01-01T00:00:00Z",
    updatedAt: "2026-01-01T00:00:00Z",
  };
}
