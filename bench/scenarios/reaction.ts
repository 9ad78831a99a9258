import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import type { CallRecord } from "../../src/simulator/index.js";
import { shortRoute } from "../lib/bird.js";
import type { BenchContext } from "../lib/context.js";
import { collectionPath } from "../lib/kube.js";
import { info, statusOf, underGoal, type ScenarioResult } from "../lib/report.js";
import { waitQuiet } from "../lib/tracker.js";
import { percentile, round, seconds, sleep } from "../lib/util.js";
import { EXTRA_DESTINATIONS, keyOf } from "../lib/workload.js";
import type { ProvisionedWorld } from "./provisioning.js";

const GOAL_P99_MS = 100;
/** The simulator logs a call when it answers (50 +/- 20 ms after it arrived): wait this long for earlier arrivals. */
const ANSWER_SLACK_MS = 120;

interface Sample {
  key: string;
  /** From sending the PATCH to the first Bird call arriving at the simulator. */
  fromSendMs: number;
  /** From the API server's answer to the PATCH to the first Bird call. */
  fromAckMs: number;
  route: string;
}

/**
 * With an idle queue, add one destination country to a Ready PhoneNumber through the API (a merge patch, what
 * `kubectl apply` sends) and time until the first Bird call reaches the simulator (its call log has the arrival
 * time, same clock: the simulator runs in this process). One change at a time, each waited out before the next.
 */
export async function runReaction(ctx: BenchContext, world: ProvisionedWorld): Promise<ScenarioResult> {
  const { cluster, sizes, log } = ctx;
  const startedAt = new Date();
  const recorder = world.bird.sim.callRecorder;
  await waitQuiet(() => recorder.count(), 2000, 60_000);
  const targets = world.numbers.map(keyOf).filter((key) => world.numberTracker.readyTime(key) !== undefined);
  if (targets.length === 0) {
    return {
      scenario: "reaction",
      status: "blocked",
      reason: "no PhoneNumber is Ready after provisioning",
      startedAt: startedAt.toISOString(),
      durationSeconds: 0,
      figures: [],
      details: {},
    };
  }
  log(`reaction: ${sizes.reactionChanges} spec changes, one at a time`);
  const samples: Sample[] = [];
  const misses: string[] = [];
  for (let i = 0; i < sizes.reactionChanges; i++) {
    const key = targets[i % targets.length] ?? "";
    const pn = world.numberTracker.informer.get(key) as PhoneNumber | undefined;
    const destination = pn?.spec.destinations?.[0];
    if (!pn || !destination) continue;
    const country = EXTRA_DESTINATIONS.find((c) => !destination.countryCodes.includes(c));
    if (!country) continue;
    const [namespace, name] = key.split("/");
    const before = recorder.count();
    const sentAt = Date.now();
    await cluster.http.request({
      method: "PATCH",
      path: `${collectionPath("PhoneNumber", namespace ?? "")}/${name}`,
      contentType: "application/merge-patch+json",
      body: {
        spec: {
          destinations: [{ capability: destination.capability, countryCodes: [...destination.countryCodes, country] }],
        },
      },
    });
    const ackAt = Date.now();
    const first = await firstCallAfter(world, before, sentAt);
    if (!first) {
      misses.push(key);
      continue;
    }
    const at = Date.parse(first.time);
    samples.push({
      key,
      fromSendMs: at - sentAt,
      fromAckMs: at - ackAt,
      route: `${first.method} ${shortRoute(first.route)}`,
    });
    await world.numberTracker.waitReady([key], 30_000);
    await waitQuiet(() => recorder.count(), 150, 10_000);
  }
  const fromSend = samples.map((s) => s.fromSendMs);
  const fromAck = samples.map((s) => s.fromAckMs);
  const routes: Record<string, number> = {};
  for (const s of samples) routes[s.route] = (routes[s.route] ?? 0) + 1;
  const figures = [
    info("changes timed", samples.length, ""),
    info("p50 spec change -> first Bird call", percentile(fromSend, 50), "ms"),
    underGoal("p99 spec change -> first Bird call", percentile(fromSend, 99), "ms", GOAL_P99_MS),
    info("max", fromSend.length ? Math.max(...fromSend) : undefined, "ms"),
    info("p99 from the API server's answer", percentile(fromAck, 99), "ms"),
  ];
  return {
    scenario: "reaction",
    status: misses.length ? "failed" : statusOf(figures),
    reason: misses.length ? `${misses.length} changes made no Bird call within 10 s` : undefined,
    startedAt: startedAt.toISOString(),
    durationSeconds: seconds(Date.now() - startedAt.getTime()),
    figures,
    details: {
      timing:
        "t0 = just before the PATCH is sent; t1 = arrival time of the first Bird API call at the simulator " +
        "after t0 (simulator call log, same process and clock). Bird's 50 +/- 20 ms latency is applied after " +
        "arrival, so it is not part of the figure.",
      firstCallRoutes: routes,
      meanMs: fromSend.length ? round(fromSend.reduce((a, b) => a + b, 0) / fromSend.length) : undefined,
      samples,
      misses,
    },
  };
}

/** The earliest Bird call that arrived at or after `since`, once the call counter moved past `before`. */
async function firstCallAfter(world: ProvisionedWorld, before: number, since: number): Promise<CallRecord | undefined> {
  const recorder = world.bird.sim.callRecorder;
  const deadline = Date.now() + 10_000;
  while (recorder.count() <= before) {
    if (Date.now() > deadline) return undefined;
    await sleep(2);
  }
  await sleep(ANSWER_SLACK_MS);
  const recent = recorder.stats().recent;
  return recent.filter((c) => Date.parse(c.time) >= since).sort((a, b) => Date.parse(a.time) - Date.parse(b.time))[0];
}
