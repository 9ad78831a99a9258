import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";
import { describe, expect, it } from "vitest";
import { apiRetryAfterMs } from "../../src/runtime/errors.js";

const status = (code: number, details?: Record<string, unknown>): ApiException<string> =>
  new ApiException(code, "answered", JSON.stringify({ kind: "Status", code, reason: "TooManyRequests", message: "storage is (re)initializing", details }), {});

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
