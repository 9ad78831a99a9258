import type { KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { silentLogger } from "../../src/log.js";
import { Controller } from "../../src/runtime/controller.js";
import { Informer, type InformerEventType } from "../../src/runtime/informer.js";
import { KubeHttp } from "../../src/runtime/kube-http.js";
import { OwnWrites } from "../../src/runtime/own-writes.js";
import { MERGE_PATCH, ResourceClient } from "../../src/runtime/resource-client.js";
import { PHONE_NUMBER_RESOURCE, testCluster, uniqueName } from "../helpers/cluster.js";
import { eventually } from "../support/fixtures.js";

const KIND = PHONE_NUMBER_RESOURCE;
const at = (resourceVersion: string): { metadata: { name: string; resourceVersion: string } } => ({
  metadata: { name: "x", resourceVersion },
});

describe("OwnWrites", () => {
  it("recognises an object our write produced once, and nothing else", () => {
    const own = new OwnWrites();
    own.record(at("10"));
    expect(own.consume(at("11"))).toBe(false);
    expect(own.consume(at("10"))).toBe(true);
    expect(own.consume(at("10"))).toBe(false);
    expect(own.consume({ metadata: { name: "x" } })).toBe(false);
  });

  it("forgets writes whose event never came once they expire", () => {
    let now = 0;
    const own = new OwnWrites(1000, () => now);
    for (let i = 0; i < 1024; i++) own.record(at(String(i)));
    now = 2000;
    own.record(at("fresh"));
    expect(own.size).toBe(1);
    expect(own.consume(at("fresh"))).toBe(true);
  });
});

describe("OwnWrites, per object", () => {
  const obj = (uid: string, resourceVersion: string): KubernetesObject => ({ metadata: { uid, resourceVersion } });

  it("says a cached object is behind our last write to it until the cache shows that version or a later one", () => {
    const own = new OwnWrites();
    own.record(obj("u", "7"));
    own.record(obj("u", "9"));
    own.record(obj("u", "8")); // an older answer arriving late does not lower the mark
    expect(own.behind(obj("u", "8"))).toBe(true);
    expect(own.behind(obj("other", "1"))).toBe(false);
    own.seen(obj("u", "8"));
    expect(own.behind(obj("u", "8"))).toBe(true);
    own.seen(obj("u", "10"));
    expect(own.behind(obj("u", "8"))).toBe(false);
    expect(own.pending).toBe(0);
  });

  it("forgets an object once the cache caught up, it was deleted, or the write expired", () => {
    let now = 0;
    const own = new OwnWrites(1000, () => now);
    own.record(obj("a", "5"));
    expect(own.behind(obj("a", "5"))).toBe(false);
    expect(own.pending).toBe(0);
    own.record(obj("b", "6"));
    own.seen(obj("b", "4"), true);
    expect(own.pending).toBe(0);
    own.record(obj("c", "7"));
    now = 1001;
    expect(own.behind(obj("c", "3"))).toBe(false);
    expect(own.pending).toBe(0);
  });

  it("does not compare versions that are not numbers", () => {
    const own = new OwnWrites();
    own.record(obj("u", "b"));
    expect(own.behind(obj("u", "a"))).toBe(false);
  });
});

/** A cache that shows a write only when the test delivers its event, as a watch that lags behind. */
class LaggingCache {
  private handler?: (
    type: InformerEventType,
    object: KubernetesObject,
    old: KubernetesObject | undefined,
    key: string,
  ) => void;
  object: KubernetesObject = { metadata: { name: "x", namespace: "ns", uid: "u1", resourceVersion: "1" } };

  informer(): Informer<KubernetesObject> {
    return {
      keys: () => ["ns/x"].values(),
      get: (key: string) => (key === "ns/x" ? this.object : undefined),
      on: (handler: LaggingCache["handler"]) => (this.handler = handler),
    } as unknown as Informer<KubernetesObject>;
  }

  deliver(object: KubernetesObject): void {
    const old = this.object;
    this.object = object;
    this.handler?.("update", object, old, "ns/x");
  }
}

describe("a controller does not reconcile an object its cache shows older than our last write", () => {
  for (const wakeOnOwnWrites of [false, true]) {
    const woken = wakeOnOwnWrites ? " (woken by own writes)" : "";
    it(`waits for the cache to show the write, then reconciles what it wrote${woken}`, async () => {
      const cache = new LaggingCache();
      const ownWrites = new OwnWrites();
      const seen: string[] = [];
      const written = {
        metadata: { name: "x", namespace: "ns", uid: "u1", resourceVersion: "2" },
        status: { done: true },
      };
      const controller = new Controller({
        name: "lagging",
        logger: silentLogger(),
        workers: 1,
        resyncMs: 3_600_000,
        reconcile: async (key) => {
          const object = cache.informer().get(key);
          seen.push(object?.metadata?.resourceVersion ?? "");
          // The first reconcile writes (the answer is version 2) and asks to come back at once.
          if (seen.length === 1) ownWrites.record(written);
          return seen.length === 1 ? { requeueAfterMs: 0 } : {};
        },
      }).watchPrimary(cache.informer(), ownWrites, { wakeOnOwnWrites });
      controller.start();
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Asked back at once, it did not act on version 1 again: it waits for the cache.
      expect(seen).toEqual(["1"]);
      cache.deliver(written);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(seen).toEqual(["1", "2"]);
      expect(ownWrites.pending).toBe(0);
      await controller.stop(1000);
    });
  }
});

/**
 * Against the suite's API server: a reconciler that annotates its object through a client sharing the controller's
 * OwnWrites is not woken by its own write, and is woken by the same change made by someone else.
 */
describe("a controller ignores the watch events of its own writes", () => {
  const cluster = testCluster();
  const http = new KubeHttp(cluster.kubeConfig);
  const ownWrites = new OwnWrites();
  const ours = new ResourceClient<PhoneNumber>(http, KIND, undefined, ownWrites);
  const theirs = new ResourceClient<PhoneNumber>(http, KIND);
  const namespace = uniqueName("own-writes");
  const reconciled = new Map<string, number>();
  let informer: Informer<PhoneNumber>;
  let controller: Controller;

  beforeAll(async () => {
    await http.request({
      method: "POST",
      path: "/api/v1/namespaces",
      body: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    });
    informer = new Informer<PhoneNumber>({
      kubeConfig: cluster.kubeConfig,
      http,
      paths: [ours.collectionPath(namespace)],
      logger: silentLogger(),
    });
    controller = new Controller({
      name: "own-writes-toy",
      logger: silentLogger(),
      workers: 2,
      resyncMs: 3_600_000,
      reconcile: async (key) => {
        reconciled.set(key, (reconciled.get(key) ?? 0) + 1);
        const pn = informer.get(key);
        const name = pn?.metadata?.name ?? "";
        if (pn && !pn.metadata?.annotations?.["toy/seen"])
          await ours.patch(namespace, name, { metadata: { annotations: { "toy/seen": "yes" } } }, MERGE_PATCH);
        return {};
      },
    }).watchPrimary(informer, ownWrites);
    informer.start();
    await informer.waitForSync();
    controller.start();
  });

  afterAll(async () => {
    await controller?.stop(1000);
    await informer?.stop();
    http.close();
  });

  it("reconciles once for its own annotation, and again for someone else's", async () => {
    const key = `${namespace}/a`;
    await theirs.create({
      apiVersion: "numbers.birdoperator.dev/v1alpha1",
      kind: "PhoneNumber",
      metadata: { name: "a", namespace },
      spec: { workspaceRef: { name: "ws" }, countryCode: "US", type: "local" },
    });
    await eventually("our annotation in the cache", async () =>
      informer.get(key)?.metadata?.annotations?.["toy/seen"] ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(reconciled.get(key)).toBe(1);
    await theirs.patch(namespace, "a", { metadata: { annotations: { "someone/else": "x" } } }, MERGE_PATCH);
    await eventually("a second reconcile", async () => ((reconciled.get(key) ?? 0) >= 2 ? true : undefined));
    expect(ownWrites.size).toBe(0);
  });
});
