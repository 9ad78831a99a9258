import { join } from "node:path";
import { PHONE_NUMBER_PLURAL } from "../../src/api/v1alpha1/index.js";
import { DEFAULT_WORKSPACE_ID } from "../../src/simulator/types.js";
import { BIRD_GET_BURST, BIRD_GET_PER_SECOND, callsBetween, snapshotCalls, startBenchSimulator } from "../lib/bird.js";
import { bareClientWrites } from "../lib/bound.js";
import { apiserverWrites, CRD_BASE, createFixture, waitWorkspaceReady } from "../lib/cluster.js";
import type { BenchContext } from "../lib/context.js";
import { createAll } from "../lib/kube.js";
import { OperatorProcess, type Memory, type OperatorProcessOptions } from "../lib/operator-process.js";
import { eventWrites, operatorDeltas, total } from "../lib/operator-metrics.js";
import { diffGroups, sumOf } from "../lib/prom.js";
import { info, statusOf, underGoal, type ScenarioResult } from "../lib/report.js";
import { ReadyTracker, waitQuiet } from "../lib/tracker.js";
import { round, seconds, sleep } from "../lib/util.js";
import { keyOf, NUMBER_KINDS, phoneNumberToAdopt, type Manifest } from "../lib/workload.js";

const GOAL_SECONDS = 30;
const GOAL_MB = 150;
const MB = 1024 * 1024;

/**
 * M numbers already in the Bird workspace and M PhoneNumbers naming them (spec.numberString: adopt), created before
 * the operator starts. The operator runs as its own process; the clock starts when it is spawned and stops when the
 * last PhoneNumber is Ready for its generation. Memory comes from /proc/<pid>/status (VmRSS, VmHWM) and /metrics.
 */
export async function runScale(ctx: BenchContext): Promise<ScenarioResult> {
  const { cluster, sizes, log } = ctx;
  const startedAt = new Date();
  const m = sizes.scaleNumbers;
  const bird = await startBenchSimulator();
  try {
    const numberStrings: string[] = [];
    for (let k = 0; k < NUMBER_KINDS.length; k++) {
      const kind = NUMBER_KINDS[k];
      const count = Math.floor(m / NUMBER_KINDS.length) + (k < m % NUMBER_KINDS.length ? 1 : 0);
      if (kind && count > 0) numberStrings.push(...bird.sim.addNumbers({ countryCode: kind.countryCode, type: kind.type, count, workspaceId: DEFAULT_WORKSPACE_ID }).map((n) => n.numberString));
    }
    const fixture = await createFixture(cluster, bird.url, "scale");
    // A first operator run checks the workspace, so that the timed run starts from a Ready workspace as a restart would.
    const warmup = await OperatorProcess.start({ ...operatorOptions(ctx, fixture.namespace, fixture.selector), logFile: join(ctx.workDir, "scale-warmup-operator.log") });
    await warmup.waitReady();
    await waitWorkspaceReady(cluster, fixture);
    await sleep(2000);
    const baseline = warmup.memory();
    await warmup.stop();

    const manifests: Manifest[] = numberStrings.map((numberString, i) => phoneNumberToAdopt(fixture, i, numberString));
    log(`scale: creating ${m} PhoneNumbers to adopt`);
    const created = await createAll(cluster, manifests);
    const tracker = new ReadyTracker(cluster, `${CRD_BASE}/namespaces/${fixture.namespace}/${PHONE_NUMBER_PLURAL}`);
    await tracker.start();
    const keys = manifests.map(keyOf);
    const callsBefore = snapshotCalls(bird);
    const apiBefore = await apiserverWrites(cluster);

    log(`scale: starting the operator`);
    const operator = await OperatorProcess.start({
      ...operatorOptions(ctx, fixture.namespace, fixture.selector),
      logFile: join(ctx.workDir, "scale-operator.log"),
      cpuProfDir: ctx.cpuProf ? join(ctx.workDir, "profiles-scale") : undefined,
    });
    let peakRss = 0;
    let sampling = true;
    const timeline: Record<string, number>[] = [];
    const sampler = (async (): Promise<void> => {
      let tick = 0;
      while (sampling) {
        const mem = operator.memory();
        if (mem) peakRss = Math.max(peakRss, mem.rssBytes);
        if (tick++ % 4 === 0) timeline.push({ t: seconds(Date.now() - operator.startedAt), rssMB: round((mem?.rssBytes ?? 0) / MB, 1), ready: tracker.readyCount, birdGets: callsBetween(callsBefore, snapshotCalls(bird)).gets });
        await sleep(250);
      }
    })();
    let readyzAt: number | undefined;
    let allReady = false;
    try {
      readyzAt = await operator.waitReady();
      allReady = await tracker.waitReady(keys, sizes.timeoutMs);
    } catch (error) {
      sampling = false;
      await sampler;
      await operator.stop();
      await tracker.stop();
      throw error;
    }
    const doneAt = tracker.lastReady(keys);
    // The writes made until everything was observed are what the timed part had to push through the API server.
    const atObserved = operatorDeltas([], await operator.metrics());
    const eventsAtObserved = eventWrites(diffGroups(apiBefore, await apiserverWrites(cluster)));
    log(`scale: ${allReady ? "all observed" : "NOT all observed"}; waiting for the operator to go quiet (no Bird call, no write for ${sizes.steadyMs} ms)`);
    // Work left after Ready (e.g. subscription details fetched off the path to Ready) is part of the steady state.
    const activity = async (): Promise<number> => bird.sim.callRecorder.count() + sumOf(await operator.metrics(), "bird_operator_kube_writes_total");
    const quiet = await waitQuiet(activity, sizes.steadyMs, sizes.timeoutMs);
    const quietAt = Date.now() - sizes.steadyMs;
    sampling = false;
    await sampler;
    const steady: Memory | undefined = operator.memory();
    const metricsAfter = await operator.metrics();
    const calls = callsBetween(callsBefore, snapshotCalls(bird));
    // A fresh process: its counters start at zero.
    const deltas = operatorDeltas([], metricsAfter);
    const events = eventWrites(diffGroups(apiBefore, await apiserverWrites(cluster)));
    await operator.stop();
    await tracker.stop();
    const peak = Math.max(peakRss, steady?.peakBytes ?? 0);
    const processRss = sumOf(metricsAfter, "process_resident_memory_bytes");
    const heapUsed = sumOf(metricsAfter, "nodejs_heap_size_used_bytes");

    log(`scale: measuring the bare client for the same writes`);
    const bare = await bareClientWrites(cluster, { crd: atObserved.kubeWrites, eventCreates: eventsAtObserved.creates, eventPatches: eventsAtObserved.patches }, { PhoneNumber: m, AlphaSender: 0, BirdWorkspace: 1 });
    const listPages = Math.ceil(m / 99);
    const birdSeconds = Math.max(0, listPages - BIRD_GET_BURST) / BIRD_GET_PER_SECOND;
    const birdWithSubscriptions = Math.max(0, listPages + m - BIRD_GET_BURST) / BIRD_GET_PER_SECOND;
    const observed = doneAt === undefined ? undefined : seconds(doneAt - operator.startedAt);
    const figures = [
      underGoal("time from operator start to all observed", observed, "s", GOAL_SECONDS),
      underGoal("peak RSS", round(peak / MB, 1), "MB", GOAL_MB, "VmHWM of the operator process"),
      underGoal("steady RSS", steady ? round(steady.rssBytes / MB, 1) : undefined, "MB", GOAL_MB, `VmRSS once the operator was quiet for ${Math.round(sizes.steadyMs / 1000)} s`),
      info("time from operator start to quiet", quiet ? seconds(quietAt - operator.startedAt) : undefined, "s", "background work after Ready included"),
      info("baseline RSS (no objects)", baseline ? round(baseline.rssBytes / MB, 1) : undefined, "MB", "the same process with an empty namespace"),
      info("Bird calls", calls.total, "", `${calls.gets} GET + ${calls.posts} POST; a list needs ${listPages}`),
      underGoal("Bird 429s", calls.tooManyRequests, "", 0),
      info("Kubernetes writes until observed", bare.writes, "", `until quiet: ${total(deltas.kubeWrites) + events.creates + events.patches}`),
      info("bound: bare client, writes until observed", bare.seconds, "s", `${bare.writes} writes at ${Math.round(bare.writesPerSecond)}/s`),
      info("observed / bare-client bound", observed === undefined ? undefined : observed / bare.seconds, ""),
      info("bound: Bird GETs", birdSeconds, "s", `${listPages} list pages; with one subscription GET per number: ${round(birdWithSubscriptions)} s`),
    ];
    return {
      scenario: "scale",
      status: allReady ? statusOf(figures) : "failed",
      reason: allReady ? undefined : `not all observed within ${sizes.timeoutMs} ms: ${JSON.stringify(tracker.notReadyReasons(keys))}`,
      startedAt: startedAt.toISOString(),
      durationSeconds: seconds(Date.now() - startedAt.getTime()),
      figures,
      details: {
        numbers: m,
        timing: "PhoneNumbers (spec.numberString only) are created while no operator runs; the clock starts at the operator's spawn (node --import tsx src/cli/main.ts run ...) and stops when the bench's watch sees the last one Ready for its generation ('observed').",
        createSeconds: seconds(created.lastAt - created.firstAt),
        readyzSeconds: readyzAt === undefined ? undefined : seconds(readyzAt - operator.startedAt),
        memory: {
          peakRssMB: round(peak / MB, 1),
          steadyRssMB: steady ? round(steady.rssBytes / MB, 1) : undefined,
          processResidentMemoryMB: round(processRss / MB, 1),
          heapUsedMB: round(heapUsed / MB, 1),
          baselineRssMB: baseline ? round(baseline.rssBytes / MB, 1) : undefined,
          runtime: ctx.runtime,
          note: `process_resident_memory_bytes is on /metrics (main.ts enables prom-client's default metrics). ${ctx.runtime === "tsx" ? "The process runs through tsx, whose loader thread and transpiled sources are part of the resident set (compare the baseline with --runtime compiled)." : "The process runs the tsc output, as the container image does."}`,
        },
        birdCalls: calls,
        kubeWrites: { ...deltas.kubeWrites, "Event create": events.creates, "Event patch": events.patches },
        kubeWritesUntilObserved: { ...atObserved.kubeWrites, "Event create": eventsAtObserved.creates, "Event patch": eventsAtObserved.patches },
        operator: deltas,
        bareClient: bare,
        timeline,
      },
    };
  } finally {
    await bird.close();
  }
}

function operatorOptions(ctx: BenchContext, namespace: string, selector: string): Omit<OperatorProcessOptions, "logFile"> {
  return { kubeconfigPath: ctx.cluster.kubeconfigPath, namespace, workspaceSelector: selector, resync: "10m", workers: ctx.workers, runtime: ctx.runtime };
}
