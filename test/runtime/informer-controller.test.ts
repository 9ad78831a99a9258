import { PHONE_NUMBER_RESOURCE } from "../helpers/cluster.js";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { silentLogger } from "../../src/log.js";
import { Controller, FORGET } from "../../src/runtime/controller.js";
import { Informer } from "../../src/runtime/informer.js";
import { KubeHttp } from "../../src/runtime/kube-http.js";
import { Metrics } from "../../src/runtime/metrics.js";
import { MERGE_PATCH, ResourceClient } from "../../src/runtime/resource-client.js";
import { setCondition, statusChanged } from "../../src/runtime/status.js";
import { createMergePatch } from "../../src/runtime/merge-patch.js";
import { eventually } from "../support/fixtures.js";

setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

const KIND = PHONE_NUMBER_RESOURCE;

function phoneNumber(name: string, country = "US"): PhoneNumber {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "PhoneNumber",
    metadata: { name, namespace: "default" },
    spec: { workspaceRef: { name: "ws" }, countryCode: country, type: "local" },
  };
}

/**
 * The runtime against its own control plane, because these tests restart the API server. The reconciler is a toy
 * that records the destinations it saw and writes a Ready condition,
 * which is enough to see every event arrive and every write counted.
 */
describe("informer and controller against a real API server", () => {
  let plane: ControlPlane;
  let informer: Informer<PhoneNumber>;
  let controller: Controller;
  let client: ResourceClient<PhoneNumber>;
  const metrics = new Metrics();
  const reconciled = new Map<string, number>();
  const seenCountry = new Map<string, string>();

  beforeAll(async () => {
    plane = await ControlPlane.start({ crdDir: new URL("../../crds", import.meta.url).pathname });
    const kubeConfig = plane.kubeConfig();
    const http = new KubeHttp(kubeConfig);
    client = new ResourceClient<PhoneNumber>(http, KIND, (kind, verb) => metrics.kubeWrites.inc({ kind, verb }));
    informer = new Informer<PhoneNumber>({
      kubeConfig,
      http,
      paths: [client.collectionPath("default")],
      logger: silentLogger(),
      watchTimeoutSeconds: [5, 10],
    });
    controller = new Controller({
      name: "toy",
      logger: silentLogger(),
      metrics,
      workers: 2,
      resyncMs: 3_600_000,
      reconcile: async (key) => {
        reconciled.set(key, (reconciled.get(key) ?? 0) + 1);
        const pn = informer.get(key);
        if (!pn) return FORGET;
        seenCountry.set(key, (pn.spec.destinations ?? []).flatMap((d) => d.countryCodes).join(",") || "none");
        const status = structuredClone(pn.status ?? {});
        status.conditions = setCondition(
          status.conditions,
          { type: "Ready", status: "True", reason: "Available", message: `country ${pn.spec.countryCode}` },
          pn.metadata?.generation,
        );
        status.observedGeneration = pn.metadata?.generation;
        if (statusChanged(pn.status, status))
          await client.patchStatus("default", pn.metadata?.name ?? "", createMergePatch(pn.status ?? {}, status));
        return {};
      },
    }).watchPrimary(informer);
    informer.start();
    await informer.waitForSync();
    controller.start();
  });

  afterAll(async () => {
    await controller?.stop(1000);
    await informer?.stop();
    await plane?.stop();
  });

  it("a finished list keeps nothing its caller gathered (its answer may stay with a kept-alive socket)", async () => {
    // In a namespace the toy controller does not watch: its writes are what the next test counts.
    const listed = phoneNumber("listed");
    await client.create({ ...listed, metadata: { ...listed.metadata, namespace: "kube-public" } });
    const http = new KubeHttp(plane.kubeConfig());
    const gathered = await (async () => {
      const keys = new Set<string>();
      const path = client.collectionPath("kube-public");
      await http.list<PhoneNumber>(path, {}, (item) => keys.add(item.metadata?.name ?? ""));
      expect(keys.has("listed")).toBe(true);
      return new WeakRef(keys);
    })();
    // Another request on the same agent: the answer of the list is left behind with its socket.
    await http.request({ method: "GET", path: client.collectionPath("kube-public"), query: { limit: 1 } });
    await eventually(
      "the list's keys collected",
      () => {
        collectGarbage();
        return Promise.resolve(gathered.deref() === undefined ? true : undefined);
      },
      5000,
    );
    http.close();
  });

  it("decodes a list in slices: every object in order, and other answers are read in between", async () => {
    const namespace = "kube-node-lease";
    const names = Array.from({ length: 60 }, (_, i) => `sliced-${String(i).padStart(2, "0")}`);
    await Promise.all(names.map((name) => client.create({ ...phoneNumber(name), metadata: { name, namespace } })));
    // A slice of 0 ms: the answer is paused after every object and resumed on the next turn of the event loop.
    const http = new KubeHttp(plane.kubeConfig(), { listSliceMs: 0 });
    const listed: string[] = [];
    let other: Promise<number> | undefined;
    const meta = await http.list<PhoneNumber>(client.collectionPath(namespace), {}, (item) => {
      listed.push(item.metadata?.name ?? "");
      // Each object takes 2 ms: 120 ms in all, which a request made at the first one must not wait for.
      const until = performance.now() + 2;
      while (performance.now() < until);
      other ??= http
        .request({ method: "GET", path: client.collectionPath("kube-public"), query: { limit: 1 } })
        .then(() => listed.length);
    });
    expect(listed).toEqual(names);
    expect(meta.resourceVersion).toMatch(/^\d+$/);
    expect(await other).toBeLessThan(names.length);
    http.close();
  });

  it("leaves the annotations it is told to drop out of its cache, and keeps every other one", async () => {
    const namespace = "kube-system";
    const applied = "kubectl.kubernetes.io/last-applied-configuration";
    const manifest = JSON.stringify(phoneNumber("applied"));
    const annotations = { [applied]: manifest, "team.example/owner": "payments" };
    await client.create({ ...phoneNumber("applied"), metadata: { name: "applied", namespace, annotations } });
    await client.create({ ...phoneNumber("plain"), metadata: { name: "plain", namespace } });
    const dropping = new Informer<PhoneNumber>({
      kubeConfig: plane.kubeConfig(),
      paths: [client.collectionPath(namespace)],
      logger: silentLogger(),
      dropAnnotations: [applied],
    });
    dropping.start();
    await dropping.waitForSync();
    expect(dropping.get(`${namespace}/applied`)?.metadata?.annotations).toEqual({ "team.example/owner": "payments" });
    expect(dropping.get(`${namespace}/plain`)?.metadata?.annotations).toBeUndefined();
    // The API server still has it: only the cache went without.
    expect((await client.get(namespace, "applied")).metadata?.annotations?.[applied]).toBe(manifest);
    await dropping.stop();
  });

  it("caches only the annotations it is told to, no labels or owner refs, stand-ins for long finalizers", async () => {
    const namespace = "kube-system";
    const http = new KubeHttp(plane.kubeConfig());
    const owner = await http.request<{ metadata: { uid: string } }>({
      method: "POST",
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "owner" } },
    });
    const bulk = "x".repeat(200_000);
    const metadata = {
      name: "bulky",
      namespace,
      annotations: { "numbers.birdoperator.dev/number-id": "n-1", "tenant.example/bulk": bulk },
      labels: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`tenant.example/l${i}`, "v".repeat(60)])),
      ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata.uid }],
    };
    await client.create({ ...phoneNumber("bulky"), metadata });
    await client.create({ ...phoneNumber("bare"), metadata: { name: "bare", namespace, annotations: { a: "b" } } });
    // Finalizers: a long list with the operator's among them, one without it, the operator's repeated, a short one.
    const ours = "numbers.birdoperator.dev/finalizer";
    const many = Array.from({ length: 300 }, (_, i) => `${"f".repeat(60)}.tenant.example/keep-${i}`);
    const finalized = {
      long: [...many.slice(0, 150), ours, ...many.slice(150)],
      others: many,
      repeated: [...many.slice(0, 10), ...Array.from({ length: 40 }, () => ours)],
      short: [many[0]!, ours],
    };
    for (const [name, finalizers] of Object.entries(finalized))
      await client.create({ ...phoneNumber(`fin-${name}`), metadata: { name: `fin-${name}`, namespace, finalizers } });
    const slim = new Informer<PhoneNumber>({
      kubeConfig: plane.kubeConfig(),
      paths: [client.collectionPath(namespace)],
      logger: silentLogger(),
      keepAnnotations: ["numbers.birdoperator.dev/number-id", "numbers.birdoperator.dev/confirm-delete"],
      capFinalizers: { max: 16, keep: [ours] },
    });
    slim.start();
    await slim.waitForSync();
    const cached = slim.get(`${namespace}/bulky`)?.metadata;
    expect(cached?.annotations).toEqual({ "numbers.birdoperator.dev/number-id": "n-1" });
    expect(cached?.labels).toBeUndefined();
    expect(cached?.ownerReferences).toBeUndefined();
    expect(slim.get(`${namespace}/bare`)?.metadata?.annotations).toBeUndefined();
    expect(slim.get(`${namespace}/fin-long`)?.metadata?.finalizers).toEqual([ours]);
    expect(slim.get(`${namespace}/fin-others`)?.metadata?.finalizers).toEqual([many[0]]);
    expect(slim.get(`${namespace}/fin-repeated`)?.metadata?.finalizers).toEqual([ours]);
    expect(slim.get(`${namespace}/fin-short`)?.metadata?.finalizers).toEqual(finalized.short);
    // Only the cache went without: the API server keeps all of it.
    const stored = (await client.get(namespace, "bulky")).metadata;
    expect(stored?.annotations?.["tenant.example/bulk"]).toBe(bulk);
    expect(Object.keys(stored?.labels ?? {})).toHaveLength(500);
    expect(stored?.ownerReferences).toHaveLength(1);
    expect((await client.get(namespace, "fin-long")).metadata?.finalizers).toEqual(finalized.long);
    await slim.stop();
    for (const name of Object.keys(finalized))
      await client.patch(namespace, `fin-${name}`, { metadata: { finalizers: [] } }, MERGE_PATCH);
    http.close();
  });

  it("reconciles a new object once and writes its status once; a repeat reconcile writes nothing", async () => {
    await client.create(phoneNumber("first"));
    const ready = await eventually("first Ready", async () =>
      informer.get("default/first")?.status?.conditions?.find((c) => c.type === "Ready"),
    );
    const transition = ready.lastTransitionTime;
    const writes = await metrics.kubeWrites.get();
    const statusWrites = writes.values.find((v) => v.labels.verb === "patch-status")?.value;
    expect(statusWrites).toBe(1);
    controller.queue.add("default/first");
    await eventually("second reconcile", async () => ((reconciled.get("default/first") ?? 0) >= 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    const after = await metrics.kubeWrites.get();
    expect(after.values.find((v) => v.labels.verb === "patch-status")?.value).toBe(1);
    expect(informer.get("default/first")?.status?.conditions?.[0]?.lastTransitionTime).toBe(transition);
  });

  it(
    "catches a change made right after the API server restarts, " + "and relists when its resourceVersion expired",
    async () => {
      await client.create(phoneNumber("restart"));
      await eventually("restart reconciled", async () => seenCountry.get("default/restart"));
      const relistsBefore = informer.relists.get(client.collectionPath("default")) ?? 0;
      await plane.stopApiServer();
      await plane.startApiServer();
      // The informer is still backing off its reconnect: this change happens while it is not watching.
      const current = await client.get("default", "restart");
      await client.update({
        ...current,
        spec: { ...current.spec, destinations: [{ capability: "sms", countryCodes: ["CA"] }] },
      });
      await eventually(
        "the change reconciled",
        async () => (seenCountry.get("default/restart") === "CA" ? true : undefined),
        60_000,
      );
      // A restarted API server has a fresh watch cache: resuming from the old resourceVersion answers 410 Gone.
      expect(informer.relists.get(client.collectionPath("default")) ?? 0).toBeGreaterThan(relistsBefore);
    },
  );

  it("counts reconciles in controller-runtime's metrics", async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/controller_runtime_reconcile_total\{controller="toy",result="success"\} [1-9]/);
    expect(text).toContain("workqueue_adds_total");
    expect(text).toContain("controller_runtime_reconcile_time_seconds_bucket");
  });
});
