import { describe, expect, it } from "vitest";
import type { KubernetesObject } from "@kubernetes/client-node";
import { silentLogger } from "../../src/log.js";
import { Controller } from "../../src/runtime/controller.js";
import type { Informer } from "../../src/runtime/informer.js";
import { Metrics } from "../../src/runtime/metrics.js";
import { deferred } from "../helpers/deferred.js";

/** An informer that holds fixed objects and never changes: what a controller reads at start. */
function fixedInformer(names: string[]): Informer<KubernetesObject> {
  const objects = names.map((name) => ({ metadata: { name, namespace: "ns", resourceVersion: "1" } }));
  const keys = objects.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
  return {
    list: () => objects,
    keys: () => keys.values(),
    on: () => undefined,
  } as unknown as Informer<KubernetesObject>;
}

describe("a controller's deferUntil", () => {
  it("keeps a deferred key off the workers until woken; only then is it reconciled and counted", async () => {
    const order: string[] = [];
    const gate = deferred();
    const metrics = new Metrics();
    const controller = new Controller({
      name: "defer",
      logger: silentLogger(),
      metrics,
      // One worker: were the deferred key to hold it, nothing else could run.
      workers: 1,
      reconcile: async (key) => {
        order.push(key);
        return {};
      },
      deferUntil: (key, wake) => {
        if (key !== "ns/later" || order.length >= 2) return false;
        void gate.promise.then(wake);
        return true;
      },
    }).watchPrimary(fixedInformer(["later", "a", "b"]));
    controller.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(order).toEqual(["ns/a", "ns/b"]);
    const initial = async (): Promise<number | undefined> =>
      (await metrics.initialReconcileSeconds.get()).values.find((v) => v.labels.controller === "defer")?.value;
    expect(await initial()).toBeUndefined();
    gate.resolve();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(order).toEqual(["ns/a", "ns/b", "ns/later"]);
    expect(await initial()).toBeGreaterThan(0);
    await controller.stop(1000);
  });

  it("defers a key as often as asked, and reconciles it once let go", async () => {
    const order: string[] = [];
    let deferrals = 0;
    const controller = new Controller({
      name: "defer-fail",
      logger: silentLogger(),
      workers: 2,
      reconcile: async (key) => {
        order.push(key);
        return {};
      },
      deferUntil: (_key, wake) => {
        if (deferrals++ >= 2) return false;
        setTimeout(wake, 5);
        return true;
      },
    }).watchPrimary(fixedInformer(["x"]));
    controller.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(order).toEqual(["ns/x"]);
    expect(deferrals).toBe(3);
    await controller.stop(1000);
  });
});

describe("a controller's startAfter", () => {
  const recording = (name: string, order: string[], gate?: Promise<void>): Controller =>
    new Controller({
      name,
      logger: silentLogger(),
      workers: 2,
      reconcile: async (key) => {
        await gate;
        order.push(`${name} ${key}`);
        return {};
      },
    });

  it("runs none of its keys before the other controller's initial pass is done, then all of them", async () => {
    const order: string[] = [];
    const gate = deferred();
    const first = recording("holders", order, gate.promise).watchPrimary(fixedInformer(["h1", "h2"]));
    const second = recording("records", order)
      .watchPrimary(fixedInformer(["r1", "r2"]))
      .startAfter(first, 60_000);
    second.start();
    first.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(order).toEqual([]);
    gate.resolve();
    await first.initialPass();
    await second.initialPass();
    expect(order.slice(0, 2).sort()).toEqual(["holders ns/h1", "holders ns/h2"]);
    expect(order.slice(2).sort()).toEqual(["records ns/r1", "records ns/r2"]);
    await Promise.all([first.stop(1000), second.stop(1000)]);
  });

  it("starts anyway once the longest wait passed, if the other controller's pass never ends", async () => {
    const order: string[] = [];
    const never = new Promise<void>(() => undefined);
    const first = recording("stuck", order, never).watchPrimary(fixedInformer(["s"]));
    const second = recording("records", order)
      .watchPrimary(fixedInformer(["r"]))
      .startAfter(first, 30);
    first.start();
    second.start();
    await second.initialPass();
    expect(order).toEqual(["records ns/r"]);
    await second.stop(1000);
  });
});
