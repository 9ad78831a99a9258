import { randomUUID } from "node:crypto";
import { getHeapSnapshot } from "node:v8";
import { describe, expect, it } from "vitest";
import { shareParts, StringPool, ValuePool } from "../../src/runtime/intern.js";

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

  it("leaves values that differ per number (ids, versions, numbers, names next to a uid) out of the pool", () => {
    const pool = new StringPool();
    const object = {
      metadata: { name: "pn-1", uid: "1f0c", resourceVersion: "42", namespace: "team-a" },
      spec: { numberString: "+31970", workspaceRef: { name: "prod" } },
      status: { numberId: "n1", endpointId: "e1", boundTo: "prod.31970", claimRef: { name: "pn-1", uid: "1f0c" } },
    };
    const copy = structuredClone(object);
    pool.internAll(object);
    expect(pool.size).toBe(2);
    expect(object).toEqual(copy);
  });

  it("makes one object's equal unique values one string: ids, numbers, uids wherever they are", async () => {
    const pool = new StringPool();
    // Values nothing else in this process holds: only the parsed object's copies are left to count.
    const text = ((uid: string, id: string, number: string): string =>
      JSON.stringify({
        metadata: { name: "prod.1", uid: randomUUID(), labels: { "x/claim-uid": uid } },
        spec: { claimRef: { name: "pn-1", uid }, numberString: number },
        status: { numberId: id, endpointId: id, endpoint: { id }, numberString: number, note: `${id} ` },
      }))(randomUUID(), `n-${randomUUID()}`, `+31${Date.now()}${process.pid}`);
    const record = JSON.parse(text) as {
      metadata: { labels: Record<string, string> };
      spec: { claimRef: { uid: string }; numberString: string };
      status: { numberId: string; endpoint: { id: string } };
    };
    expect(await stringCopies([record.spec.claimRef.uid, record.status.numberId, record.spec.numberString])).toEqual([
      2, 3, 2,
    ]);
    pool.internAll(record);
    expect(await stringCopies([record.spec.claimRef.uid, record.status.numberId, record.spec.numberString])).toEqual([
      1, 1, 1,
    ]);
    expect(record).toEqual(JSON.parse(text));
    expect(pool.size).toBe(1);
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

interface Doc {
  metadata: { name: string; finalizers: string[] };
  spec: { workspaceRef: object; claimRef: object };
  status: { monthlyPrice: object; issues: string[]; conditions: object[]; big: object };
}

describe("shareParts", () => {
  const number = (name: string, numberId: string): Doc =>
    JSON.parse(
      JSON.stringify({
        metadata: { name, uid: `uid-${name}`, finalizers: ["numbers.birdoperator.dev/finalizer"] },
        spec: {
          workspaceRef: { name: "prod" },
          numberString: "+31970",
          // Equal here only to show it is not even looked up: a part with a uid is its object's own.
          claimRef: { name: "pn-1", namespace: "team-a", uid: "c1" },
        },
        status: {
          numberId,
          monthlyPrice: { amount: 350, currencyCode: "EUR", exponent: 2 },
          issues: [],
          conditions: [
            {
              type: "Ready",
              status: "True",
              reason: "Available",
              message: "",
              lastTransitionTime: "2026-11-30T10:00:00Z",
            },
            { type: "Synced", status: "True", reason: "ReconcileSuccess", message: "", lastTransitionTime: "t" },
          ],
          note: "x".repeat(300),
          big: { text: "y".repeat(300) },
        },
      }),
    ) as Doc;

  it("shares equal small parts of spec and status (frozen), bottom-up; keeps the rest each object's own", () => {
    const a = number("a", "id-a");
    const b = number("b", "id-b");
    shareParts(a);
    shareParts(b);
    expect(b.spec.workspaceRef).toBe(a.spec.workspaceRef);
    expect(b.status.monthlyPrice).toBe(a.status.monthlyPrice);
    expect(b.status.issues).toBe(a.status.issues);
    expect(b.status.conditions).toBe(a.status.conditions);
    expect(b.metadata.finalizers).toBe(a.metadata.finalizers);
    expect(Object.isFrozen(a.status.conditions[0])).toBe(true);
    expect(() => a.status.conditions.push({})).toThrow();
    // The objects, their metadata and status, and values too big to be worth sharing stay their own.
    expect(b.status).not.toBe(a.status);
    expect(b.metadata).not.toBe(a.metadata);
    expect(b.status.big).not.toBe(a.status.big);
    expect(b.spec.claimRef).not.toBe(a.spec.claimRef);
    expect(Object.isFrozen(a.spec.claimRef)).toBe(false);
    expect(Object.isFrozen(a.status)).toBe(false);
    expect(b).toEqual(number("b", "id-b"));
  });
});

/** How many strings in this process's heap hold each of `values` (a heap snapshot tells copies apart). */
async function stringCopies(values: string[]): Promise<number[]> {
  let json = "";
  for await (const chunk of getHeapSnapshot()) json += String(chunk);
  const heap = JSON.parse(json) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const { node_fields: fields, node_types: types } = heap.snapshot.meta;
  const width = fields.length;
  const type = fields.indexOf("type");
  const name = fields.indexOf("name");
  const stringType = types[0].indexOf("string");
  const counts = values.map(() => 0);
  for (let i = 0; i < heap.nodes.length; i += width) {
    if (heap.nodes[i + type] !== stringType) continue;
    const at = values.indexOf(heap.strings[heap.nodes[i + name] ?? -1] ?? "");
    if (at >= 0) counts[at] = (counts[at] ?? 0) + 1;
  }
  return counts;
}
