import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/control-plane/processes.js";
import { startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { testCluster, uniqueName } from "../helpers/cluster.js";
import { apply, createFixture, eventually, type Fixture } from "../support/fixtures.js";
import { OperatorProcess } from "../support/operator-process.js";

const cluster = testCluster();

/** `bird-operator run` as real processes: probes, metrics, leader election between two of them, graceful exit. */
describe("the operator process", () => {
  let sim: RunningSimulator;
  let fixture: Fixture;
  const running: OperatorProcess[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, provisioningDelayMs: 100 });
    fixture = await createFixture(cluster, sim.url);
  });

  afterAll(async () => {
    await Promise.all(running.map((p) => p.kill("SIGKILL")));
    await sim?.close();
  });

  const start = async (lease: string): Promise<{ process: OperatorProcess; metrics: string; health: string }> => {
    const metrics = `127.0.0.1:${await freePort()}`;
    const health = `127.0.0.1:${await freePort()}`;
    const process = new OperatorProcess({
      args: [
        `--kubeconfig=${cluster.kubeconfigPath}`,
        `--namespaces=${fixture.namespace}`,
        `--operator-namespace=${fixture.namespace}`,
        `--workspace-selector=${fixture.selector}`,
        `--lease-name=${lease}`,
        "--lease-duration=4s",
        "--renew-deadline=3s",
        "--retry-period=500ms",
        `--metrics-address=${metrics}`,
        `--health-address=${health}`,
      ],
    });
    running.push(process);
    return { process, metrics, health };
  };
  const leads = (p: OperatorProcess): boolean => p.output().includes("Starting controllers");
  const pn = (name: string): Record<string, unknown> => ({
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "PhoneNumber",
    metadata: { name, namespace: fixture.namespace },
    spec: { workspaceRef: { name: fixture.workspace }, countryCode: "US", type: "local" },
  });

  it(
    "serves probes and controller-runtime metrics, and only the leader reconciles; " +
      "a crash hands over within the lease",
    async () => {
      const lease = uniqueName("lease");
      const a = await start(lease);
      await eventually("first leader", async () => (leads(a.process) ? true : undefined));
      const b = await start(lease);
      await eventually("standby ready", async () =>
        (await fetch(`http://${b.health}/readyz`)).status === 200 ? true : undefined,
      );
      expect((await fetch(`http://${a.health}/healthz`)).status).toBe(200);

      await apply(cluster, pn("leader-1"));
      await cluster.kubectl(["wait", "--for=condition=Ready", "pn/leader-1", "-n", fixture.namespace, "--timeout=60s"]);
      const metrics = await (await fetch(`http://${a.metrics}/metrics`)).text();
      for (const name of [
        "controller_runtime_reconcile_total",
        "controller_runtime_reconcile_errors_total",
        "controller_runtime_reconcile_time_seconds",
        "workqueue_depth",
        "workqueue_adds_total",
        "workqueue_retries_total",
        "workqueue_queue_duration_seconds",
        "workqueue_work_duration_seconds",
        "bird_api_requests_total",
        "bird_api_request_duration_seconds",
        "bird_rate_limiter_wait_seconds",
        "bird_operator_managed_resources",
        "leader_election_master_status",
      ]) {
        expect(metrics, name).toContain(name);
      }
      expect(metrics).toMatch(/controller_runtime_reconcile_total\{controller="phonenumber",result="[a-z_]+"\} [1-9]/);
      expect(leads(b.process)).toBe(false);
      const standby = await (await fetch(`http://${b.metrics}/metrics`)).text();
      expect(standby).not.toMatch(/controller_runtime_reconcile_total\{controller="phonenumber"/);

      const killedAt = Date.now();
      await a.process.kill("SIGKILL");
      await eventually("takeover", async () => (leads(b.process) ? true : undefined), 15_000);
      const takeoverMs = Date.now() - killedAt;
      expect(takeoverMs).toBeLessThan(4000 + 3000);
      await apply(cluster, pn("leader-2"));
      await cluster.kubectl(["wait", "--for=condition=Ready", "pn/leader-2", "-n", fixture.namespace, "--timeout=60s"]);
      await b.process.kill("SIGKILL");
    },
    120_000,
  );

  it("hands over at once on SIGTERM and exits 0", async () => {
    const lease = uniqueName("lease");
    const a = await start(lease);
    await eventually("first leader", async () => (leads(a.process) ? true : undefined));
    const b = await start(lease);
    await eventually("standby ready", async () =>
      (await fetch(`http://${b.health}/readyz`)).status === 200 ? true : undefined,
    );
    const stoppedAt = Date.now();
    expect((await a.process.kill("SIGTERM")).code).toBe(0);
    await eventually("handover", async () => (leads(b.process) ? true : undefined), 15_000);
    // Released, not expired: well under the 4 s lease.
    expect(Date.now() - stoppedAt).toBeLessThan(3000);
    expect((await b.process.kill("SIGTERM")).code).toBe(0);
  }, 120_000);
});
