import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { silentLogger, type Logger } from "../../src/log.js";
import { Controller } from "../../src/runtime/controller.js";
import { Informer } from "../../src/runtime/informer.js";
import { KubeHttp } from "../../src/runtime/kube-http.js";
import { Metrics } from "../../src/runtime/metrics.js";
import { ResourceClient } from "../../src/runtime/resource-client.js";
import { PHONE_NUMBER_RESOURCE, testCluster, uniqueName } from "../helpers/cluster.js";
import { eventually } from "../support/fixtures.js";

const KIND = PHONE_NUMBER_RESOURCE;
const GAUGE = "bird_operator_initial_reconcile_seconds";
const DONE = "Reconciled every object present at start";

function phoneNumber(namespace: string, name: string): PhoneNumber {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "PhoneNumber",
    metadata: { name, namespace },
    spec: { workspaceRef: { name: "ws" }, countryCode: "US", type: "local" },
  };
}

/** Lines a pino logger wrote, parsed. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "info" },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

async function gaugeValue(metrics: Metrics, controller: string): Promise<number | undefined> {
  return (await metrics.initialReconcileSeconds.get()).values.find((v) => v.labels.controller === controller)?.value;
}

/**
 * The initial pass after a (re)start: the keys the informer holds when the controller starts, each reconciled once
 * (whatever the result), then one gauge value and one log line. Against the suite's API server, in a namespace of
 * its own; the reconciler is a toy that holds one key until the test lets it go, then fails it once.
 */
describe("initial reconcile of the objects present at start", () => {
  const cluster = testCluster();
  const http = new KubeHttp(cluster.kubeConfig);
  const client = new ResourceClient<PhoneNumber>(http, KIND, () => undefined);
  const namespace = uniqueName("initial");
  const names = ["a", "b", "c", "d", "held"];
  const metrics = new Metrics();
  const { logger, lines } = capturingLogger();
  const reconciled = new Map<string, number>();
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  let informer: Informer<PhoneNumber>;
  let controller: Controller;

  beforeAll(async () => {
    await http.request({
      method: "POST",
      path: "/api/v1/namespaces",
      body: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    });
    for (const name of names) await client.create(phoneNumber(namespace, name));
    informer = new Informer<PhoneNumber>({
      kubeConfig: cluster.kubeConfig,
      http,
      paths: [client.collectionPath(namespace)],
      logger: silentLogger(),
    });
    controller = new Controller({
      name: "initial-toy",
      logger,
      metrics,
      workers: 2,
      resyncMs: 3_600_000,
      reconcile: async (key) => {
        const count = (reconciled.get(key) ?? 0) + 1;
        reconciled.set(key, count);
        if (key === `${namespace}/held` && count === 1) {
          await released;
          // Any result counts as reconciled: an error included.
          throw new Error("held key fails once");
        }
        return {};
      },
    }).watchPrimary(informer);
    informer.start();
    await informer.waitForSync();
    controller.start();
  });

  afterAll(async () => {
    release();
    await controller?.stop(1000);
    await informer?.stop();
    http.close();
  });

  it("records nothing while a key present at start is still being reconciled, even after a newer key", async () => {
    await eventually("the other keys reconciled", async () =>
      names.every((n) => reconciled.has(`${namespace}/${n}`)) ? true : undefined,
    );
    // An object created after the start is not part of the initial pass: reconciling it completes nothing.
    await client.create(phoneNumber(namespace, "later"));
    await eventually("the later key reconciled", async () => (reconciled.has(`${namespace}/later`) ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    expect(await gaugeValue(metrics, "initial-toy")).toBeUndefined();
    expect(await metrics.registry.metrics()).not.toMatch(new RegExp(`^${GAUGE}\\{`, "m"));
    expect(lines.filter((l) => l.msg === DONE)).toEqual([]);
  });

  it("records the seconds since process start once the last initial key was reconciled, and logs it once", async () => {
    release();
    const seconds = await eventually("the gauge", () => gaugeValue(metrics, "initial-toy"));
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(process.uptime());
    expect(await metrics.registry.metrics()).toMatch(new RegExp(`^${GAUGE}\\{controller="initial-toy"\\} `, "m"));
    const done = lines.filter((l) => l.msg === DONE);
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({ controller: "initial-toy", objects: names.length });
    // The held key comes back after its failure; later reconciles neither move the gauge nor log again.
    await eventually("the held key retried", async () =>
      (reconciled.get(`${namespace}/held`) ?? 0) >= 2 ? true : undefined,
    );
    controller.queue.add(`${namespace}/a`);
    await eventually("a reconciled again", async () =>
      (reconciled.get(`${namespace}/a`) ?? 0) >= 2 ? true : undefined,
    );
    expect(await gaugeValue(metrics, "initial-toy")).toBe(seconds);
    expect(lines.filter((l) => l.msg === DONE)).toHaveLength(1);
  });

  it("records at once for a controller that starts with no objects", async () => {
    const empty = uniqueName("initial-empty");
    await http.request({
      method: "POST",
      path: "/api/v1/namespaces",
      body: { apiVersion: "v1", kind: "Namespace", metadata: { name: empty } },
    });
    const emptyInformer = new Informer<PhoneNumber>({
      kubeConfig: cluster.kubeConfig,
      http,
      paths: [client.collectionPath(empty)],
      logger: silentLogger(),
    });
    const emptyController = new Controller({
      name: "initial-empty",
      logger,
      metrics,
      reconcile: async () => ({}),
    }).watchPrimary(emptyInformer);
    emptyInformer.start();
    await emptyInformer.waitForSync();
    try {
      expect(await gaugeValue(metrics, "initial-empty")).toBeUndefined();
      emptyController.start();
      expect(await gaugeValue(metrics, "initial-empty")).toBeGreaterThan(0);
      expect(lines.find((l) => l.msg === DONE && l.controller === "initial-empty")).toMatchObject({ objects: 0 });
    } finally {
      await emptyController.stop(1000);
      await emptyInformer.stop();
    }
  });
});
