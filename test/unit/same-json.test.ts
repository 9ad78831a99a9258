import { describe, expect, it } from "vitest";
import { cloneJson, sameJson, statusChanged } from "../../src/runtime/status.js";

describe("sameJson", () => {
  it("agrees with comparing the JSON of both sides, key order aside", () => {
    const cases: [unknown, unknown][] = [
      [
        { a: 1, b: [1, { c: "x" }] },
        { b: [1, { c: "x" }], a: 1 },
      ],
      [{ a: 1, gone: undefined }, { a: 1 }],
      [{ a: [undefined] }, { a: [null] }],
      [{ a: 1 }, { a: "1" }],
      [{ a: [1, 2] }, { a: [2, 1] }],
      [{ a: {} }, { a: [] }],
      [{ a: null }, {}],
      [{ a: { b: { c: 1 } } }, { a: { b: { c: 2 } } }],
      [[], {}],
      ["x", "x"],
    ];
    const canonical = (v: unknown): string =>
      JSON.stringify(v, (_key, value: unknown) =>
        value && typeof value === "object" && !Array.isArray(value)
          ? Object.fromEntries(Object.entries(value).sort(([x], [y]) => x.localeCompare(y)))
          : value,
      );
    for (const [a, b] of cases) expect(sameJson(a, b), JSON.stringify([a, b])).toBe(canonical(a) === canonical(b));
  });

  it("leaves lastSyncTime out of a status comparison", () => {
    type S = { lastSyncTime?: string; x?: number };
    expect(statusChanged<S>({ lastSyncTime: "a", x: 1 }, { lastSyncTime: "b", x: 1 })).toBe(false);
    expect(statusChanged<S>({ x: 1 }, { x: 2 })).toBe(true);
    expect(statusChanged<S>(undefined, {})).toBe(false);
  });
});

describe("cloneJson", () => {
  it("copies a status deeply: the copy can change without changing the original", () => {
    const status = { conditions: [{ type: "Ready", status: "True" }], price: { amount: 1 }, issues: [], n: null };
    const copy = cloneJson(status);
    expect(copy).toEqual(status);
    copy.conditions[0]!.status = "False";
    copy.price.amount = 2;
    expect(status).toEqual({
      conditions: [{ type: "Ready", status: "True" }],
      price: { amount: 1 },
      issues: [],
      n: null,
    });
  });
});
