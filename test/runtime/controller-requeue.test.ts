import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.js";
import { Controller, FORGET, type ReconcileResult } from "../../src/runtime/controller.js";
import { TransientError } from "../../src/runtime/errors.js";
import { eventually } from "../support/fixtures.js";

/**
 * What the controller does with a key after its reconcile. A deleted object's key must leave the queue for good: no
 * resync, no backoff, no failure count (before, a reconcile that found its object gone returned undefined and the
 * controller scheduled a resync for it, so every key ever seen stayed in the queue and came back at each resync). A
 * permanent failure is not retried with backoff, but is looked at again at the resync interval.
 */
describe("the queue after a reconcile", () => {
  let controller: Controller | undefined;
  afterEach(async () => {
    await controller?.stop(1000);
  });

  /**
   * A toy reconciler over a set of live keys; `flaky` fails while it lives, `vanished` gets a 404 from the API server,
   * `refused` a 422 (permanent).
   */
  function toy(live: Set<string>, resyncMs = 3_600_000): { controller: Controller; runs: Map<string, number> } {
    const runs = new Map<string, number>();
    const reconcile = async (key: string): Promise<ReconcileResult> => {
      runs.set(key, (runs.get(key) ?? 0) + 1);
      if (key === "vanished") throw new ApiException(404, "not found", "{}", {});
      if (!live.has(key)) return FORGET;
      if (key === "flaky") throw new TransientError("Bird is down", "BirdUnreachable");
      if (key === "refused") throw new ApiException(422, "invalid", "{}", {});
      return {};
    };
    controller = new Controller({ name: "forget-toy", logger: silentLogger(), workers: 4, resyncMs, reconcile });
    controller.start();
    return { controller, runs };
  }

  it("is forgotten without a requeue, and the queue's per-key state shrinks with the objects", async () => {
    const names = Array.from({ length: 300 }, (_, i) => `ns/pn-${i}`);
    const live = new Set([...names, "flaky"]);
    const { controller, runs } = toy(live);
    for (const key of [...live, "vanished"]) controller.queue.add(key);
    await eventually("every key reconciled", async () =>
      names.every((k) => runs.has(k)) && controller.queue.isIdle() ? true : undefined,
    );
    // Each live key waits for its resync; the flaky one for its backoff.
    expect(controller.queue.trackedKeys().size).toBe(301);
    expect(controller.queue.trackedKeys().has("vanished")).toBe(false);

    // Deleted: the informer's delete event adds each key once more, and the reconcile finds its object gone.
    const deleted = [...names.slice(0, 200), "flaky"];
    for (const key of deleted) live.delete(key);
    for (const key of deleted) controller.queue.add(key);
    const remaining = await eventually("the deleted keys forgotten", async () => {
      const tracked = controller.queue.trackedKeys();
      return deleted.some((k) => tracked.has(k)) || !controller.queue.isIdle() ? undefined : tracked;
    });
    expect([...remaining].sort()).toEqual(names.slice(200).sort());
    expect(controller.queue.failures("flaky")).toBe(0);

    // Nothing brings a forgotten key back on its own.
    const runsBefore = new Map(runs);
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const key of [...deleted, "vanished"]) expect(runs.get(key)).toBe(runsBefore.get(key));
  });

  it("looks again at a permanent failure at the resync interval, without backoff in between", async () => {
    const { controller, runs } = toy(new Set(["refused"]), 300);
    controller.queue.add("refused");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // About one run per resync (270 to 330 ms), never the quick retries of a backoff.
    expect(runs.get("refused")).toBeGreaterThanOrEqual(2);
    expect(runs.get("refused")).toBeLessThanOrEqual(5);
    expect(controller.queue.failures("refused")).toBe(0);
  });
});
