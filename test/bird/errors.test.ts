import { describe, expect, it } from "vitest";
import { BirdApiError, classifyStatus, parseRetryAfter } from "../../src/bird/index.js";

describe("classifyStatus", () => {
  it.each([
    { status: 0, kind: "transient" },
    { status: 400, kind: "permanent" },
    { status: 401, kind: "unauthorized" },
    { status: 403, kind: "forbidden" },
    { status: 404, kind: "not-found" },
    { status: 409, kind: "permanent" },
    { status: 422, kind: "permanent" },
    { status: 429, kind: "transient" },
    { status: 500, kind: "transient" },
    { status: 502, kind: "transient" },
    { status: 503, kind: "transient" },
    { status: 504, kind: "transient" },
  ])("$status is $kind", ({ status, kind }) => {
    expect(classifyStatus(status)).toBe(kind);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-03-01T12:00:00Z");
  it.each([
    { reason: "delta-seconds", value: "3", want: 3000 },
    { reason: "zero", value: "0", want: 0 },
    { reason: "HTTP date in the future", value: "Sun, 01 Mar 2026 12:00:05 GMT", want: 5000 },
    { reason: "HTTP date in the past", value: "Sun, 01 Mar 2026 11:00:00 GMT", want: 0 },
    { reason: "absent", value: null, want: undefined },
    { reason: "blank", value: " ", want: undefined },
    { reason: "garbage", value: "soon", want: undefined },
    { reason: "negative", value: "-5", want: undefined },
  ])("$reason", ({ value, want }) => {
    expect(parseRetryAfter(value, now)).toBe(want);
  });
});

describe("BirdApiError", () => {
  it("names method, route template, status, Bird's code and message", () => {
    const error = new BirdApiError({
      method: "POST",
      route: "/workspaces/{workspaceId}/numbers-long-code",
      status: 422,
      code: "stock-item-unavailable",
      birdMessage: "The stock item was sold",
    });
    expect(error.message).toBe(
      "Bird POST /workspaces/{workspaceId}/numbers-long-code answered 422 stock-item-unavailable: " +
        "The stock item was sold",
    );
    expect(error.kind).toBe("permanent");
    expect(error.ambiguous).toBe(false);
    expect(error.transient).toBe(false);
    expect(error.name).toBe("BirdApiError");
    expect(error).toBeInstanceOf(Error);
  });

  it.each([
    {
      reason: "a 503 to a buy: Bird says it did not process it",
      status: 503,
      method: "POST",
      serverError: true,
      suffix: true,
    },
    {
      reason: "a 500 to a read is a server error too, retried without comment",
      status: 500,
      method: "GET",
      serverError: true,
      suffix: false,
    },
    { reason: "no answer at all is not a server error", status: 0, method: "POST", serverError: false, suffix: false },
    {
      reason: "a 422 is the caller's fault, not Bird's",
      status: 422,
      method: "POST",
      serverError: false,
      suffix: false,
    },
  ])("$reason", ({ status, method, serverError, suffix }) => {
    const error = new BirdApiError({ method, route: "/r", status });
    expect([error.serverError, error.ambiguous]).toEqual([serverError, false]);
    expect(error.message.includes("not processed")).toBe(suffix);
  });

  it("says when the outcome is unknown", () => {
    const error = new BirdApiError({ method: "POST", route: "/r", status: 503, ambiguous: true });
    expect(error.message).toMatch(/^Bird POST \/r answered 503 \(the request may have taken effect/);
    expect(error.kind).toBe("transient");
  });
});
