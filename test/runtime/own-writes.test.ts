import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { silentLogger } from "../../src/log.js";
import { Controller } from "../../src/runtime/controller.js";
import { Informer } from "../../src/runtime/informer.js";
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
