import { describe, expect, it } from "vitest";
import { StringPool, ValuePool } from "../../src/runtime/intern.js";

describe("StringPool", () => {
  it("replaces equal strings by one copy, leaves structure and other values alone", () => {
    const pool = new StringPool();
    type Doc = { metadata: { namespace: string; generation: number }; status: unknown };
    const parse = (text: string): Doc => JSON.parse(text) as Doc;
    const a = parse('{"metadata":{"namespace":"team-a","generation":1},"status":{"caps":["sms","voice"],"ok":true}}');
    const b = parse('{"metadata":{"namespace":"team-a","generation":2},"status":{"caps":["sms"],"ok":null}}');
    pool.internAll(a);
    pool.internAll(b);
    expect(a).toEqual({
      metadata: { namespace: "team-a", generation: 1 },
      status: { caps: ["sms", "voice"], ok: true },
    });
    expect(b).toEqual({ metadata: { namespace: "team-a", generation: 2 }, status: { caps: ["sms"], ok: null } });
    expect(pool.size).toBe(3);
    expect(pool.intern(["team", "a"].join("-"))).toBe(a.metadata.namespace);
  });

  it("leaves values that differ per object (uid, resourceVersion) out of the pool", () => {
    const pool = new StringPool();
    const object = { metadata: { uid: "1f0c", resourceVersion: "42", namespace: "team-a" } };
    pool.internAll(object);
    expect(pool.size).toBe(1);
    expect(object.metadata).toEqual({ uid: "1f0c", resourceVersion: "42", namespace: "team-a" });
  });

  it("skips long strings and starts afresh when full", () => {
    const pool = new StringPool(2, 8);
    pool.intern("a very long message");
    expect(pool.size).toBe(0);
    pool.intern("x");
    pool.intern("y");
    pool.intern("z");
    expect(pool.size).toBe(1);
  });
});

describe("ValuePool", () => {
  it("hands out one frozen copy of equal values, which a StringPool then leaves alone", () => {
    const values = new ValuePool();
    const first = values.share({ sms: { inbound: true, outbound: true } });
    const second = values.share(JSON.parse('{"sms":{"inbound":true,"outbound":true}}') as typeof first);
    expect(second).toBe(first);
    expect(Object.isFrozen(first.sms)).toBe(true);
    expect(() => {
      (first.sms as { inbound: boolean }).inbound = false;
    }).toThrow(TypeError);
    expect(new StringPool().internAll({ kept: first }).kept).toBe(first);
    expect(values.share(undefined)).toBeUndefined();
  });
});
