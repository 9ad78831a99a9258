import { createServer, connect, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { CoordinationV1Api, KubeConfig, V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import { LeaderElector } from "../../src/runtime/leader.js";
import { Metrics } from "../../src/runtime/metrics.js";
import { testCluster, uniqueName } from "../helpers/cluster.js";

const LEASE_MS = 3_000;
const RENEW_DEADLINE_MS = 2_000;
const RETRY_MS = 500;
/** A candidate polls every retry period plus up to 120 % jitter, as client-go's do. */
const MAX_POLL_GAP_MS = RETRY_MS * 2.2;

const cluster = testCluster();
const coordination = cluster.kubeConfig.makeApiClient(CoordinationV1Api);
const electors: LeaderElector[] = [];
const proxies: Server[] = [];

interface Candidate {
  identity: string;
  elector: LeaderElector;
  metrics: Metrics;
  started: number[];
  stopped: number[];
}

function candidate(lease: string, identity: string, kubeConfig: KubeConfig = cluster.kubeConfig): Candidate {
  const metrics = new Metrics();
  const started: number[] = [];
  const stopped: number[] = [];
  const elector = new LeaderElector({
    kubeConfig,
    namespace: "default",
    name: lease,
    identity,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: RENEW_DEADLINE_MS,
    retryPeriodMs: RETRY_MS,
    metrics,
    onStartedLeading: () => started.push(Date.now()),
    onStoppedLeading: () => stopped.push(Date.now()),
  });
  electors.push(elector);
  void elector.run();
  return { identity, elector, metrics, started, stopped };
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now();
}

function readLease(name: string): Promise<V1Lease> {
  return coordination.readNamespacedLease({ name, namespace: "default" });
}

async function leaderGauge(c: Candidate): Promise<number | undefined> {
  return (await c.metrics.leader.get()).values[0]?.value;
}

/** A TCP proxy to the API server that can swallow traffic, as a partitioned network would. */
async function partitionableApiServer(): Promise<{ kubeConfig: KubeConfig; partition: () => void }> {
  const target = new URL(cluster.kubeConfig.getCurrentCluster()?.server ?? "");
  const sockets = new Set<Socket>();
  let partitioned = false;
  const server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    if (partitioned) return;
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(upstream);
    upstream.on("error", () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  proxies.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("proxy has no port");
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: cluster.kubeConfig.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${address.port}` })),
    users: cluster.kubeConfig.users,
    contexts: cluster.kubeConfig.contexts,
    currentContext: cluster.kubeConfig.currentContext,
  });
  return {
    kubeConfig,
    partition: () => {
      partitioned = true;
      for (const socket of sockets) socket.destroy();
    },
  };
}

describe("LeaderElector", () => {
  afterEach(async () => {
    await Promise.all(electors.splice(0).map((e) => e.stop({ release: false })));
    for (const proxy of proxies.splice(0)) proxy.close();
  });

  it("lets exactly one of two candidates lead, on a lease it writes with micro-time stamps", async () => {
    const lease = uniqueName("lease");
    const a = candidate(lease, "a");
    const b = candidate(lease, "b");
    await waitFor(() => a.elector.isLeader() || b.elector.isLeader(), 5_000);
    const sampleUntil = Date.now() + LEASE_MS + 1_000;
    while (Date.now() < sampleUntil) {
      expect(Number(a.elector.isLeader()) + Number(b.elector.isLeader())).toBe(1);
      await new Promise((r) => setTimeout(r, 25));
    }
    const [leader, follower] = a.elector.isLeader() ? [a, b] : [b, a];
    expect(leader.started).toHaveLength(1);
    expect(follower.started).toHaveLength(0);
    expect(await leaderGauge(leader)).toBe(1);
    expect(await leaderGauge(follower)).toBe(0);

    const { stdout } = await cluster.kubectl(["get", "lease", lease, "-n", "default", "-o", "json"]);
    const spec = (JSON.parse(stdout) as { spec: Record<string, unknown> }).spec;
    expect(spec).toMatchObject({ holderIdentity: leader.identity, leaseDurationSeconds: 3, leaseTransitions: 0 });
    expect(spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(spec.acquireTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    // Renewals keep the acquire time and move the renew time.
    await new Promise((r) => setTimeout(r, RETRY_MS * 2));
    const renewed = (await readLease(lease)).spec;
    expect(String(renewed?.acquireTime)).toBe(spec.acquireTime);
    expect(String(renewed?.renewTime)).not.toBe(spec.renewTime);
  });

  it(
    "tells a leader that was frozen past its renew deadline that its lease is not fresh, " + "before any timer runs",
    async () => {
      let frozenFor = 0;
      const elector = new LeaderElector({
        kubeConfig: cluster.kubeConfig,
        namespace: "default",
        name: uniqueName("lease"),
        identity: "frozen",
        leaseDurationMs: LEASE_MS,
        renewDeadlineMs: RENEW_DEADLINE_MS,
        retryPeriodMs: RETRY_MS,
        now: () => Date.now() + frozenFor,
        onStartedLeading: () => undefined,
        onStoppedLeading: () => undefined,
      });
      electors.push(elector);
      void elector.run();
      await waitFor(() => elector.isLeader(), 5_000);
      expect(elector.holdsFreshLease()).toBe(true);
      // As after a pause: the clock moved past the renew deadline, and no timer or renewal has run since.
      frozenFor = RENEW_DEADLINE_MS + 100;
      expect(elector.isLeader()).toBe(true);
      expect(elector.holdsFreshLease()).toBe(false);
    },
  );

  it("lets another candidate take over a crashed leader's lease once it expires, not before", async () => {
    const lease = uniqueName("lease");
    const a = candidate(lease, "a");
    await waitFor(() => a.elector.isLeader(), 5_000);
    const b = candidate(lease, "b");
    await new Promise((r) => setTimeout(r, RETRY_MS * 3));
    expect(b.elector.isLeader()).toBe(false);

    const crashedAt = Date.now();
    await a.elector.stop({ release: false });
    expect(a.stopped).toHaveLength(1);
    const tookOverAt = await waitFor(() => b.elector.isLeader(), LEASE_MS + 3 * MAX_POLL_GAP_MS);
    const elapsed = tookOverAt - crashedAt;
    // b judges expiry by when it last saw the lease change: a's last renewal, up to one renew period before the crash.
    expect(elapsed).toBeGreaterThanOrEqual(LEASE_MS - RETRY_MS - 200);
    expect(elapsed).toBeLessThanOrEqual(LEASE_MS + 2 * MAX_POLL_GAP_MS + 500);
    expect((await readLease(lease)).spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
  });

  it("hands the lease over at once when the leader stops with release", async () => {
    const lease = uniqueName("lease");
    const a = candidate(lease, "a");
    await waitFor(() => a.elector.isLeader(), 5_000);
    const b = candidate(lease, "b");
    await new Promise((r) => setTimeout(r, RETRY_MS));

    const stoppedAt = Date.now();
    await a.elector.stop({ release: true });
    expect(a.stopped).toHaveLength(1);
    expect(await leaderGauge(a)).toBe(0);
    const tookOverAt = await waitFor(() => b.elector.isLeader(), LEASE_MS);
    expect(tookOverAt - stoppedAt).toBeLessThan(MAX_POLL_GAP_MS + 500);
    expect((await readLease(lease)).spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
  });

  it("stops leading at once when another writer takes the lease", async () => {
    const lease = uniqueName("lease");
    const a = candidate(lease, "a");
    await waitFor(() => a.elector.isLeader(), 5_000);

    const current = await readLease(lease);
    const now = new V1MicroTime(Date.now());
    await coordination.replaceNamespacedLease({
      name: lease,
      namespace: "default",
      body: {
        ...current,
        spec: {
          holderIdentity: "thief",
          leaseDurationSeconds: 30,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: 7,
        },
      },
    });
    const stolenAt = Date.now();
    const stoppedAt = await waitFor(() => a.stopped.length > 0, RENEW_DEADLINE_MS);
    expect(stoppedAt - stolenAt).toBeLessThan(RENEW_DEADLINE_MS - 500);
    expect(a.elector.isLeader()).toBe(false);
    expect(await leaderGauge(a)).toBe(0);
    // The thief's lease is fresh: a waits instead of taking it back.
    await new Promise((r) => setTimeout(r, RETRY_MS * 4));
    expect(a.elector.isLeader()).toBe(false);
    expect((await readLease(lease)).spec?.holderIdentity).toBe("thief");
  });

  it("stops leading within the renew deadline when the API server becomes unreachable", async () => {
    const lease = uniqueName("lease");
    const proxy = await partitionableApiServer();
    const a = candidate(lease, "a", proxy.kubeConfig);
    await waitFor(() => a.elector.isLeader(), 5_000);
    // Partition right after a renewal lands, so the deadline counts from a known point.
    const before = String((await readLease(lease)).spec?.renewTime);
    let lastRenewal = 0;
    while (!lastRenewal) {
      if (String((await readLease(lease)).spec?.renewTime) !== before) lastRenewal = Date.now();
    }
    proxy.partition();
    const stoppedAt = await waitFor(() => a.stopped.length > 0, RENEW_DEADLINE_MS + 1_000);
    expect(stoppedAt - lastRenewal).toBeLessThanOrEqual(RENEW_DEADLINE_MS + 300);
    expect(stoppedAt - lastRenewal).toBeGreaterThanOrEqual(RENEW_DEADLINE_MS - RETRY_MS - 100);
    expect(a.elector.isLeader()).toBe(false);
  });
});
