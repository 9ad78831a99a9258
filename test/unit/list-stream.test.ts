import { describe, expect, it } from "vitest";
import { ListDecoder, withoutManagedFields } from "../../src/runtime/list-stream.js";

const items = [
  { metadata: { name: "a", annotations: { note: 'braces { } [ ] and "quotes" and \\ backslashes' } }, spec: {} },
  { metadata: { name: "b", annotations: { json: '{"a":"\\"}', tail: "ends in a backslash \\", q: '\\"' } } },
  {
    metadata: { name: "ünïcödé-名前-🐦" },
    status: { conditions: [{ type: "Ready", message: "]}" }], list: [[1], []] },
  },
  { metadata: { name: "c" }, items: [{ nested: "items inside an item" }] },
];
const doc = JSON.stringify({
  kind: "PhoneNumberList",
  apiVersion: "numbers.birdoperator.dev/v1alpha1",
  metadata: { resourceVersion: "42", continue: "" },
  items,
});

function decode(chunks: Buffer[]): { got: unknown[]; rest: { metadata: { resourceVersion: string }; items: [] } } {
  const got: unknown[] = [];
  const decoder = new ListDecoder((item) => got.push(item));
  for (const chunk of chunks) decoder.write(chunk);
  return { got, rest: decoder.end() };
}

function split(bytes: Buffer, sizes: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const size = Math.max(1, sizes());
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

describe("ListDecoder", () => {
  it("hands out every item and keeps the list's metadata, however the bytes are cut", () => {
    const bytes = Buffer.from(doc);
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 23) + 1;
    for (const chunks of [[bytes], split(bytes, () => 1), split(bytes, random), split(bytes, () => 64)]) {
      const { got, rest } = decode(chunks);
      expect(got).toEqual(items);
      expect(rest).toEqual({ ...(JSON.parse(doc) as object), items: [] });
    }
  });

  it("stops right after an item when asked to yield and returns the rest, which decodes to the same list", () => {
    const bytes = Buffer.from(doc);
    for (const chunks of [[bytes], split(bytes, () => 64), split(bytes, () => 5)]) {
      const got: unknown[] = [];
      const decoder = new ListDecoder((item) => got.push(item));
      let yields = 0;
      for (const chunk of chunks) {
        let rest: Buffer | undefined = chunk;
        while (rest) {
          const before = got.length;
          rest = decoder.write(rest, () => true);
          if (rest) {
            yields++;
            // Stopped exactly after the item it just handed out.
            expect(got.length).toBe(before + 1);
          }
        }
      }
      expect(got).toEqual(items);
      expect(decoder.end()).toEqual({ ...(JSON.parse(doc) as object), items: [] });
      // The whole document in one chunk stops after each item (the skeleton still follows the last one).
      if (chunks.length === 1) expect(yields).toBe(items.length);
    }
  });

  it("handles an empty list, items before metadata, and refuses a cut-off answer", () => {
    expect(decode([Buffer.from('{"kind":"L","items":[],"metadata":{"resourceVersion":"1"}}')]).rest).toEqual({
      kind: "L",
      items: [],
      metadata: { resourceVersion: "1" },
    });
    const reordered = '{"items":[{"a":1},{"b":"x"}],"metadata":{"resourceVersion":"9","continue":"t"}}';
    const { got, rest } = decode(split(Buffer.from(reordered), () => 3));
    expect(got).toEqual([{ a: 1 }, { b: "x" }]);
    expect(rest.metadata).toEqual({ resourceVersion: "9", continue: "t" });
    const decoder = new ListDecoder(() => undefined);
    decoder.write(Buffer.from(doc.slice(0, 100)));
    expect(() => decoder.end()).toThrow(/middle of its JSON/);
  });
});

describe("ListDecoder and managedFields", () => {
  it("cuts each item's metadata.managedFields out before parsing, however the bytes are cut; nothing else", () => {
    const managed = [
      { manager: 'kubectl "x" ]}', fieldsV1: { "f:metadata": { "f:labels": { ".": {}, "f:a]": {} } } } },
      { manager: "bird-operator", fieldsV1: { "f:status": { 'k:{"type":"Ready"}': {} } }, list: [[], [1]] },
    ];
    const withManaged = [
      { metadata: { name: "a", managedFields: managed, finalizers: ["f"] }, spec: { managedFields: [1] } },
      { metadata: { managedFields: managed, name: "b" }, status: { conditions: [{ type: "Ready" }] } },
      { metadata: { name: "c", annotations: { note: '"managedFields":[' } }, data: { managedFields: ["kept"] } },
    ];
    const bytes = Buffer.from(JSON.stringify({ kind: "L", metadata: { resourceVersion: "7" }, items: withManaged }));
    const expected = [
      { metadata: { name: "a", managedFields: [], finalizers: ["f"] }, spec: { managedFields: [1] } },
      { metadata: { managedFields: [], name: "b" }, status: { conditions: [{ type: "Ready" }] } },
      withManaged[2],
    ];
    let seed = 3;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 37) + 1;
    for (const chunks of [[bytes], split(bytes, () => 1), split(bytes, random), split(bytes, () => 16)]) {
      const { got, rest } = decode(chunks);
      expect(got).toEqual(expected);
      expect(rest.metadata.resourceVersion).toBe("7");
    }
  });
});

describe("withoutManagedFields", () => {
  it("empties a watch event's metadata.managedFields, strings with brackets and escapes included", () => {
    const object = {
      metadata: {
        name: "a",
        managedFields: [{ manager: 'x "]}[{', fieldsV1: { 'k:{"type":"Ready"}': {} }, l: [[]] }],
        annotations: { note: '"managedFields":[1]' },
      },
      status: { conditions: [{ type: "Ready", message: "]" }] },
    };
    const line = JSON.stringify({ type: "MODIFIED", object });
    const parsed = JSON.parse(withoutManagedFields(line)) as { object: typeof object };
    expect(parsed.object).toEqual({ ...object, metadata: { ...object.metadata, managedFields: [] } });
  });

  it("leaves JSON without managedFields, or cut off inside them, unchanged", () => {
    expect(withoutManagedFields('{"type":"BOOKMARK","object":{"metadata":{}}}')).toBe(
      '{"type":"BOOKMARK","object":{"metadata":{}}}',
    );
    const cut = '{"object":{"metadata":{"managedFields":[{"a":"]"';
    expect(withoutManagedFields(cut)).toBe(cut);
  });
});
