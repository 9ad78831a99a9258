import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";
import { describe, expect, it } from "vitest";
import { BirdApiError } from "../../src/bird/errors.js";
import { StockItemRefused } from "../../src/workspace/buy-batcher.js";
import {
  apiRetryAfterMs,
  classifyError,
  PermanentError,
  TransientError,
  Waiting,
  type ErrorClass,
} from "../../src/runtime/errors.js";

const status = (code: number, details?: Record<string, unknown>): ApiException<string> =>
  new ApiException(
    code,
    "answered",
    JSON.stringify({
      kind: "Status",
      code,
      reason: "TooManyRequests",
      message: "storage is (re)initializing",
      details,
    }),
    {},
  );

describe("apiRetryAfterMs", () => {
  it("reads the pause a 429 asks for, and defaults to one second", () => {
    expect(apiRetryAfterMs(status(429, { retryAfterSeconds: 3 }))).toBe(3000);
    expect(apiRetryAfterMs(status(429))).toBe(1000);
    expect(apiRetryAfterMs(new ApiException(429, "answered", "not json", {}))).toBe(1000);
  });

  it("caps what it honours at a minute, and says nothing for other errors", () => {
    expect(apiRetryAfterMs(status(429, { retryAfterSeconds: 3600 }))).toBe(60_000);
    expect(apiRetryAfterMs(status(500, { retryAfterSeconds: 3 }))).toBeUndefined();
    expect(apiRetryAfterMs(new Error("connect ECONNREFUSED"))).toBeUndefined();
  });
});

describe("classifyError", () => {
  const bird = (status: number, ambiguous = false): BirdApiError =>
    new BirdApiError({ method: "POST", route: "/r", status, ambiguous });
  const kube = (code: number): ApiException<string> => new ApiException(code, "answered", "{}", {});
  it.each<{ reason: string; error: unknown; want: ErrorClass }>([
    {
      reason: "a reconciler's PermanentError waits for a change",
      error: new PermanentError("no", "PolicyViolation"),
      want: "permanent",
    },
    {
      reason: "a reconciler's TransientError backs off",
      error: new TransientError("later", "BirdUnreachable"),
      want: "transient",
    },
    {
      reason: "Waiting never reaches the controller, and would back off if it did",
      error: new Waiting("stock", "NumberUnavailable", 1000),
      want: "transient",
    },
    { reason: "API server 404: the object is gone, done", error: kube(404), want: "not-found" },
    { reason: "API server 409: a write conflict, a quick quiet requeue", error: kube(409), want: "conflict" },
    {
      reason: "API server 422: the object itself was refused, the same write cannot succeed",
      error: kube(422),
      want: "permanent",
    },
    { reason: "API server 429: it asked us to slow down", error: kube(429), want: "transient" },
    { reason: "API server 500: its trouble, retried", error: kube(500), want: "transient" },
    {
      reason: "API server 403: RBAC can be fixed without touching the object, so retried with backoff",
      error: kube(403),
      want: "transient",
    },
    { reason: "Bird 422: a refusal that needs a change on our side", error: bird(422), want: "permanent" },
    { reason: "Bird 401: the key is wrong until someone fixes the Secret", error: bird(401), want: "permanent" },
    { reason: "Bird 403: the key lacks a permission", error: bird(403), want: "permanent" },
    { reason: "Bird 503: Bird's trouble, retried", error: bird(503), want: "transient" },
    { reason: "Bird 429 after the client's own retries", error: bird(429), want: "transient" },
    { reason: "no answer from Bird (ambiguous): retried once looked up", error: bird(0, true), want: "transient" },
    {
      reason: "a stock item Bird refused: another item may be bought",
      error: new StockItemRefused({ id: "i", numberString: "+1" }, bird(422)),
      want: "transient",
    },
    { reason: "anything else (a bug, a network error) backs off", error: new Error("boom"), want: "transient" },
    { reason: "a thrown non-error backs off too", error: "boom", want: "transient" },
  ])("$reason", ({ error, want }) => {
    expect(classifyError(error)).toBe(want);
  });
});
