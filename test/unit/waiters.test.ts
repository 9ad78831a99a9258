import { describe, expect, it } from "vitest";
import { Waiters } from "../../src/runtime/waiters.js";

describe("Waiters", () => {
  it("wakes each key waiting on a topic once, when the topic changes", () => {
    const woken: string[] = [];
    const waiters = new Waiters((key) => woken.push(key));
    waiters.wait("ws.1", "team-b/copy");
    waiters.wait("ws.1", "team-b/copy");
    waiters.wait("ws.1", "team-c/copy");
    waiters.notify("ws.1");
    waiters.notify("ws.1");
    expect(woken).toEqual(["team-b/copy", "team-c/copy"]);
  });

  it("keeps at most maxTopics topics and maxKeys keys on one topic, forgetting the oldest", () => {
    const woken: string[] = [];
    const waiters = new Waiters((key) => woken.push(key), 2, 3);
    for (let i = 0; i < 10; i++) waiters.wait("ws.1", `team-b/copy-${i}`);
    waiters.wait("ws.2", "a/x");
    waiters.wait("ws.3", "a/y");
    expect(waiters.size).toBe(2);
    waiters.notify("ws.1");
    expect(woken).toEqual([]);
    const bounded = new Waiters((key) => woken.push(key), 10, 3);
    for (let i = 0; i < 10; i++) bounded.wait("ws.1", `team-b/copy-${i}`);
    bounded.notify("ws.1");
    expect(woken).toEqual(["team-b/copy-7", "team-b/copy-8", "team-b/copy-9"]);
  });
});
