import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { lazyChild } from "../../src/log.js";

function capture(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n"))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describe("lazyChild", () => {
  it("makes no child for calls at levels that are off, and one child (redacted bindings) on first real use", () => {
    const { lines, stream } = capture();
    const parent = pino({ level: "info", redact: { paths: ["token"], censor: "[redacted]" } }, stream);
    const child = vi.spyOn(parent, "child");
    const log = lazyChild(parent, { key: "team-a/pn-1", token: "s3cret" });
    log.debug({ detail: 1 }, "not logged");
    log.trace("not logged either");
    expect(child).not.toHaveBeenCalled();

    log.info({ step: "claim" }, "first");
    log.warn("second");
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines.map((l) => [l.msg, l.key, l.token, l.step])).toEqual([
      ["first", "team-a/pn-1", "[redacted]", "claim"],
      ["second", "team-a/pn-1", "[redacted]", undefined],
    ]);
    // Once made, every property is the child's: its own children carry both bindings.
    log.child({ reconcileId: 7 }).error("third");
    expect(lines[2]).toMatchObject({ msg: "third", key: "team-a/pn-1", reconcileId: 7, level: 50 });
    expect(log.isLevelEnabled("debug")).toBe(false);
  });

  it("follows the level the parent has when a call is made", () => {
    const { lines, stream } = capture();
    const parent = pino({ level: "info" }, stream);
    const log = lazyChild(parent, { key: "k" });
    parent.level = "debug";
    log.debug("now on");
    expect(lines).toEqual([expect.objectContaining({ msg: "now on", key: "k" })]);
  });
});
