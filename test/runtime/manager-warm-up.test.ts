import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.js";
import type { Controller } from "../../src/runtime/controller.js";
import { Manager } from "../../src/runtime/manager.js";
import { Metrics } from "../../src/runtime/metrics.js";
import { deferred } from "../helpers/deferred.js";

describe("Manager warm-up", () => {
  it("runs a leader's warm-up while the caches still sync, and starts the controllers only once synced", async () => {
    const events: string[] = [];
    const sync = deferred();
    const manager = new Manager({
      kubeConfig: { server: "http://127.0.0.1:1", requestOptions: async () => ({}) } as never,
      logger: silentLogger(),
      metrics: new Metrics(),
      metricsAddress: "127.0.0.1:0",
      healthAddress: "127.0.0.1:0",
      shutdownDeadlineMs: 100,
    });
    manager.addInformer({
      start: () => events.push("informer started"),
      stop: async () => undefined,
      hasSynced: () => false,
      waitForSync: () => sync.promise.then(() => void events.push("synced")),
    });
    manager.addController({
      name: "c",
      start: () => events.push("controller started"),
      stop: async () => undefined,
    } as unknown as Controller);
    manager.onLeading(() => events.push("warm-up"));
    const started = manager.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toEqual(["informer started", "warm-up"]);
    sync.resolve();
    await started;
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(events).toEqual(["informer started", "warm-up", "synced", "controller started"]);
    expect(manager.isLeading()).toBe(true);
    await manager.stop();
  });
});
