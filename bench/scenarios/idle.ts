import { join } from "node:path";
import type { CallRecord } from "../../src/simulator/index.js";
import { callsBetween, isSenderRoute, shortRoute, snapshotCalls } from "../lib/bird.js";
import { apiserverWrites } from "../lib/cluster.js";
import type { BenchContext } from "../lib/context.js";
import { BenchOperator } from "../lib/operator-process.js";
import { eventWrites, operatorDeltas, total } from "../lib/operator-metrics.js";
import { diffGroups, sumOf } from "../lib/prom.js";
import { info, statusOf, underGoal, type ScenarioResult } from "../lib/report.js";
import { waitQuiet } from "../lib/tracker.js";
import { round, seconds, sleep } from "../lib/util.js";
import type { ProvisionedWorld } from "./provisioning.js";

/** GETs in a time window by what they serve; the workspace check is the one-item sender list (`limit=1`). */
function classifyGets(
  recent: readonly CallRecord[],
  from: number,
  to: number,
): { numbers: number; senders: number; workspaceCheck: number; byPath: Record<string, number> } {
  const out = { numbers: 0, senders: 0, workspaceCheck: 0, byPath: {} as Record<string, number> };
  for (const call of recent) {
    const at = Date.parse(call.time);
    if (call.method !== "GET" || at < from || at > to) continue;
    const route = shortRoute(call.route);
    const query = new URLSearchParams(call.path.split("?")[1] ?? "");
    const purpose =
      route === "numbers-alpha" && query.get("limit") === "1"
        ? "workspaceCheck"
        : isSenderRoute(route)
          ? "senders"
          : "numbers";
    out[purpose]++;
    const key = `${purpose}: GET ${route}`;
    out.byPath[key] = (out.byPath[key] ?? 0) + 1;
  }
  return out;
}

/** Bird's page size for the inventory's lists. */
const PAGE = 99;

/**
 * Everything Ready, nothing changing: restart the operator with a short `--resync`, let its first pass finish (that
 * pass is reported as the restart cost), then count what several resync intervals cost in Bird calls and
 * Kubernetes writes. Leaves the restarted operator in `world.operator`.
 */
export async function runIdle(ctx: BenchContext, world: ProvisionedWorld): Promise<ScenarioResult> {
  const { cluster, sizes, log } = ctx;
  const startedAt = new Date();
  const n = world.numbers.length;
  const s = world.senders.length;
  const resyncMs = sizes.idleResyncMs;
  await world.operator.stop();
  const restartCalls = snapshotCalls(world.bird);
  const restartApi = await apiserverWrites(cluster);
  world.operator = await BenchOperator.start({
    kubeconfigPath: cluster.kubeconfigPath,
    namespace: world.fixture.namespace,
    workspaceSelector: world.fixture.selector,
    resync: `${resyncMs}ms`,
    workers: ctx.workers,
    runtime: ctx.runtime,
    logFile: join(ctx.workDir, "idle-operator.log"),
  });
  const operator = world.operator;
  await operator.waitReady();
  const firstPassStart = await operator.metrics();
  log(`idle: operator restarted with --resync ${resyncMs}ms; waiting for its first pass`);
  const reconciled = async (): Promise<number> =>
    sumOf(await operator.metrics(), "controller_runtime_reconcile_total", {
      controller: ["phonenumber", "alphasender"],
    });
  const deadline = Date.now() + Math.min(sizes.timeoutMs, 10 * 60_000);
  while ((await reconciled()) < n + s && Date.now() < deadline) await sleep(200);
  await waitQuiet(() => world.bird.sim.callRecorder.count(), Math.min(2000, resyncMs / 3), 60_000);
  const firstPassCalls = callsBetween(restartCalls, snapshotCalls(world.bird));
  const firstPassOperator = operatorDeltas(firstPassStart, await operator.metrics());
  const firstPassEvents = eventWrites(diffGroups(restartApi, await apiserverWrites(cluster)));

  const callsBefore = snapshotCalls(world.bird);
  const metricsBefore = await operator.metrics();
  const apiBefore = await apiserverWrites(cluster);
  const windowMs = sizes.idleIntervals * resyncMs;
  const windowStart = Date.now();
  log(`idle: measuring ${sizes.idleIntervals} resync intervals (${windowMs} ms)`);
  await sleep(windowMs);
  const windowEnd = Date.now();
  const calls = callsBetween(callsBefore, snapshotCalls(world.bird));
  const deltas = operatorDeltas(metricsBefore, await operator.metrics());
  const events = eventWrites(diffGroups(apiBefore, await apiserverWrites(cluster)));
  const gets = classifyGets(world.bird.sim.callRecorder.stats().recent, windowStart, windowEnd);

  const perResync = (x: number): number => round(x / sizes.idleIntervals);
  const sendersInWorkspace = world.bird.sim.snapshot(false).workspaces[0]?.senderCount ?? s;
  const numberGoal = Math.ceil(n / PAGE);
  const senderListGoal = Math.ceil(sendersInWorkspace / PAGE);
  const numberGets = perResync(gets.numbers);
  const senderGets = perResync(gets.senders);
  const kubeWrites = total(deltas.kubeWrites) + events.creates + events.patches;
  const per1000 = (x: number): number => round((x * 1000) / Math.max(1, n));
  const figures = [
    underGoal(
      "number GETs per resync per 1,000 numbers",
      per1000(numberGets),
      "",
      per1000(numberGoal),
      `${numberGets} per resync for ${n} numbers; goal ceil(${n}/99) list pages`,
    ),
    underGoal(
      "sender GETs per resync",
      senderGets,
      "",
      senderListGoal + s,
      `goal ceil(${sendersInWorkspace}/99) list pages + one per sender (${s}); list pages alone: ${senderListGoal}`,
    ),
    info(
      "workspace check GETs per resync",
      perResync(gets.workspaceCheck),
      "",
      "BirdWorkspace Ready: one cheap authenticated call",
    ),
    info("Bird GETs per resync, all", perResync(calls.gets), ""),
    underGoal("Bird writes", calls.posts, "", 0),
    underGoal("Kubernetes writes", kubeWrites, "", 0),
    info("restart: Bird GETs (first pass)", firstPassCalls.gets, "", `${firstPassCalls.posts} POSTs`),
    info(
      "restart: Kubernetes writes (first pass)",
      total(firstPassOperator.kubeWrites) + firstPassEvents.creates + firstPassEvents.patches,
      "",
    ),
  ];
  return {
    scenario: "idle",
    status: statusOf(figures),
    startedAt: startedAt.toISOString(),
    durationSeconds: seconds(Date.now() - startedAt.getTime()),
    figures,
    details: {
      numbers: n,
      senders: s,
      sendersInWorkspace,
      resyncMs,
      intervals: sizes.idleIntervals,
      method:
        "The provisioning operator (resync 10m) is stopped and a new one started with the short resync; " +
        "its first pass over every object is reported as the restart cost. Then the counters are read before " +
        "and after N x resync; per-resync figures divide by N. Reconciles are jittered +/-10%, " +
        "so a window can catch a few more or fewer than N per object.",
      birdCalls: calls,
      getsByPurpose: gets,
      kubeWrites: { ...deltas.kubeWrites, "Event create": events.creates, "Event patch": events.patches },
      operator: deltas,
      restart: { birdCalls: firstPassCalls, operator: firstPassOperator, events: firstPassEvents },
    },
  };
}
