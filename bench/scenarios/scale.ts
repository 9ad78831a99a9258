import { join } from "node:path";
import { PHONE_NUMBER_PLURAL, type PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { isReady } from "../../src/runtime/status.js";
import type { RunningSimulator } from "../../src/simulator/index.js";
import { DEFAULT_WORKSPACE_ID } from "../../src/simulator/types.js";
import {
  BIRD_GET_BURST,
  BIRD_GET_PER_SECOND,
  callsBetween,
  snapshotCalls,
  startBenchSimulator,
  type CallSummary,
} from "../lib/bird.js";
import { bareClientWrites } from "../lib/bound.js";
import { apiserverWrites, CRD_BASE, createFixture, waitWorkspaceReady } from "../lib/cluster.js";
import type { Fixture } from "../../test/support/fixtures.js";
import type { BenchContext } from "../lib/context.js";
import { createAll } from "../lib/kube.js";
import { BenchOperator, type BenchOperatorOptions } from "../lib/operator-process.js";
import {
  eventWrites,
  initialReconcileSeconds,
  operatorDeltas,
  total,
  type OperatorDeltas,
} from "../lib/operator-metrics.js";
import { diffGroups, sumOf, type Sample } from "../lib/prom.js";
import { info, statusOf, underGoal, type Figure, type ScenarioResult } from "../lib/report.js";
import { ReadyTracker, waitQuiet } from "../lib/tracker.js";
import { pollUntil, round, seconds, sleep } from "../lib/util.js";
import { keyOf, NUMBER_KINDS, phoneNumberToAdopt, type Manifest } from "../lib/workload.js";

const GOAL_SECONDS = 30;
const GOAL_MB = 150;
const MB = 1024 * 1024;
/** Bird's page size for the inventory's number lists. */
const PAGE = 99;
/** The operator's PhoneNumber controller: the one whose initial pass the restart is timed by. */
const CONTROLLER = "phonenumber";

type Events = { creates: number; patches: number };

/** Peak and last resident set of one operator process, and what it was doing, sampled every 250 ms. */
class Sampler {
  peakRss = 0;
  /** The operator's /metrics as last read (by the sampler or by whoever polls it). */
  samples: Sample[] = [];
  readonly timeline: Record<string, number>[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly operator: BenchOperator,
    point: (sampler: Sampler) => Record<string, number>,
  ) {
    this.done = (async (): Promise<void> => {
      let tick = 0;
      while (this.running) {
        const mem = this.operator.memory();
        if (mem) this.peakRss = Math.max(this.peakRss, mem.rssBytes);
        if (tick++ % 4 === 0) {
          await this.refresh();
          this.timeline.push({
            t: seconds(Date.now() - this.operator.startedAt),
            rssMB: round((mem?.rssBytes ?? 0) / MB, 1),
            ...point(this),
          });
        }
        await sleep(250);
      }
    })();
  }

  /** Reads /metrics; keeps the last answer when the server is not listening yet. */
  async refresh(): Promise<Sample[]> {
    try {
      this.samples = await this.operator.metrics();
    } catch {
      // Not serving yet (or already stopped).
    }
    return this.samples;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** The condition under which the PhoneNumber reconciler skips the subscription GET (`syncSubscription`). */
function hasSubscriptionDetails(pn: PhoneNumber | undefined): boolean {
  return Boolean(pn?.status?.subscription?.startAt && pn.status.monthlyPrice);
}

function countWhere(
  tracker: ReadyTracker<PhoneNumber>,
  keys: readonly string[],
  predicate: (pn: PhoneNumber | undefined) => boolean,
): number {
  let n = 0;
  for (const key of keys) if (predicate(tracker.informer.get(key))) n++;
  return n;
}

interface Adoption {
  allReady: boolean;
  reason?: string;
  readyzSeconds?: number;
  /** Spawn to the last PhoneNumber Ready for its generation. */
  allReadySeconds?: number;
  /** Spawn to every status carrying its subscription dates and price; undefined when the wait timed out. */
  datesSeconds?: number;
  quietSeconds?: number;
  callsUntilReady: CallSummary;
  calls: CallSummary;
  writesUntilReady: { crd: Record<string, number>; events: Events };
  operator: OperatorDeltas;
  events: Events;
  peakRssBytes: number;
  steadyRssBytes?: number;
  timeline: Record<string, number>[];
}

/**
 * Set-up, reported but not the goal: a first operator adopts the M PhoneNumbers (finalizer + status each) until all
 * are Ready, then fetches the subscription dates it deferred (one GET per number at Bird's 50 GET/s: about M / 50 s
 * after the first 1 to 31 s) and goes quiet. Then it is stopped, leaving the statuses a restart finds.
 */
async function adopt(
  ctx: BenchContext,
  bird: RunningSimulator,
  fixture: Fixture,
  tracker: ReadyTracker<PhoneNumber>,
  keys: readonly string[],
): Promise<Adoption> {
  const { cluster, sizes, log } = ctx;
  const m = keys.length;
  const callsBefore = snapshotCalls(bird);
  const apiBefore = await apiserverWrites(cluster);
  log(`scale: set-up: starting the adopting operator`);
  const operator = await BenchOperator.start({
    ...operatorOptions(ctx, fixture),
    logFile: join(ctx.workDir, "scale-adoption-operator.log"),
    cpuProfDir: ctx.cpuProf ? join(ctx.workDir, "profiles-scale-adoption") : undefined,
  });
  const sampler = new Sampler(operator, () => ({
    ready: tracker.readyCount,
    dated: countWhere(tracker, keys, hasSubscriptionDetails),
    birdGets: callsBetween(callsBefore, snapshotCalls(bird)).gets,
  }));
  try {
    const deadline = Date.now() + sizes.timeoutMs;
    const readyzAt = await operator.waitReady();
    const allReady = await tracker.waitReady(keys, sizes.timeoutMs);
    const doneAt = tracker.lastReady(keys);
    const atReady = operatorDeltas([], await operator.metrics());
    const eventsAtReady = eventWrites(diffGroups(apiBefore, await apiserverWrites(cluster)));
    const callsUntilReady = callsBetween(callsBefore, snapshotCalls(bird));
    if (!allReady) {
      return {
        allReady,
        reason:
          `not all Ready within ${sizes.timeoutMs} ms: ${JSON.stringify(tracker.notReadyReasons(keys))} ` +
          `${JSON.stringify(tracker.notReadyExamples(keys))}`,
        callsUntilReady,
        calls: callsUntilReady,
        writesUntilReady: { crd: atReady.kubeWrites, events: eventsAtReady },
        operator: atReady,
        events: eventsAtReady,
        peakRssBytes: Math.max(sampler.peakRss, operator.memory()?.peakBytes ?? 0),
        timeline: sampler.timeline,
      };
    }
    const lacking = m - countWhere(tracker, keys, hasSubscriptionDetails);
    const getsSeconds = Math.max(0, lacking - BIRD_GET_BURST) / BIRD_GET_PER_SECOND;
    log(
      `scale: set-up: all ${m} Ready after ${seconds((doneAt ?? Date.now()) - operator.startedAt)} s; ` +
        `waiting for the subscription dates of ${lacking} (one deferred GET each at Bird's ` +
        `${BIRD_GET_PER_SECOND}/s: at least ${round(getsSeconds, 1)} s) and for the operator to go quiet`,
    );
    const datesAt = await pollUntil(
      () => (countWhere(tracker, keys, hasSubscriptionDetails) === m ? Date.now() : undefined),
      Math.max(0, deadline - Date.now()),
      500,
    );
    if (datesAt === undefined)
      log(
        "scale: set-up: gave up waiting for subscription dates: " +
          `${m - countWhere(tracker, keys, hasSubscriptionDetails)} statuses still lack them`,
      );
    // Work after the dates (their status writes, a workspace recount) is part of the set-up, not of the restart.
    const activity = async (): Promise<number> =>
      bird.sim.callRecorder.count() + sumOf(await operator.metrics(), "bird_operator_kube_writes_total");
    const quiet = await waitQuiet(activity, sizes.steadyMs, Math.max(sizes.steadyMs * 2, deadline - Date.now()));
    const quietAt = Date.now() - sizes.steadyMs;
    const steady = operator.memory();
    const after = await operator.metrics();
    return {
      allReady,
      readyzSeconds: seconds(readyzAt - operator.startedAt),
      allReadySeconds: doneAt === undefined ? undefined : seconds(doneAt - operator.startedAt),
      datesSeconds: datesAt === undefined ? undefined : seconds(datesAt - operator.startedAt),
      quietSeconds: quiet ? seconds(quietAt - operator.startedAt) : undefined,
      callsUntilReady,
      calls: callsBetween(callsBefore, snapshotCalls(bird)),
      writesUntilReady: { crd: atReady.kubeWrites, events: eventsAtReady },
      operator: operatorDeltas([], after),
      events: eventWrites(diffGroups(apiBefore, await apiserverWrites(cluster))),
      peakRssBytes: Math.max(sampler.peakRss, steady?.peakBytes ?? 0),
      steadyRssBytes: steady?.rssBytes,
      timeline: sampler.timeline,
    };
  } finally {
    await sampler.stop();
    await operator.stop();
  }
}

interface Restart {
  observed: boolean;
  /**
   * bird_operator_initial_reconcile_seconds{controller="phonenumber"}:
   * process start to the last initial key reconciled.
   */
  gaugeSeconds?: number;
  /** Spawn to the bench's scrape that first showed the gauge (at most 250 ms late). */
  detectedSeconds?: number;
  readyzSeconds?: number;
  quietSeconds?: number;
  initialPasses: Record<string, number>;
  callsUntilObserved: CallSummary;
  calls: CallSummary;
  operatorUntilObserved: OperatorDeltas;
  eventsUntilObserved: Events;
  operator: OperatorDeltas;
  events: Events;
  peakRssBytes: number;
  steadyRssBytes?: number;
  processResidentBytes: number;
  heapUsedBytes: number;
  stillReady: number;
  timeline: Record<string, number>[];
}

/**
 * Timed: a fresh operator finds M Ready PhoneNumbers whose statuses are complete. The clock runs from its spawn until
 * each of them was reconciled once, as the operator itself reports it (bird_operator_initial_reconcile_seconds,
 * polled on /metrics). Then it runs until quiet for the steady resident set.
 */
async function restart(
  ctx: BenchContext,
  bird: RunningSimulator,
  fixture: Fixture,
  tracker: ReadyTracker<PhoneNumber>,
  keys: readonly string[],
): Promise<Restart> {
  const { cluster, sizes, log } = ctx;
  const callsBefore = snapshotCalls(bird);
  const apiBefore = await apiserverWrites(cluster);
  log(`scale: restart: spawning a fresh operator; timing until every PhoneNumber present at start was reconciled once`);
  const operator = await BenchOperator.start({
    ...operatorOptions(ctx, fixture),
    logFile: join(ctx.workDir, "scale-operator.log"),
    cpuProfDir: ctx.cpuProf ? join(ctx.workDir, "profiles-scale") : undefined,
  });
  const sampler = new Sampler(operator, (s) => ({
    reconciles: sumOf(s.samples, "controller_runtime_reconcile_total", { controller: CONTROLLER }),
    birdGets: callsBetween(callsBefore, snapshotCalls(bird)).gets,
  }));
  try {
    const readyz = operator.waitReady(sizes.timeoutMs).catch(() => undefined);
    const found = await pollUntil(
      async () => {
        if (!operator.running)
          throw new Error(`the operator exited with ${operator.exit?.code}:\n${operator.tail(40)}`);
        const samples = await sampler.refresh();
        const value = initialReconcileSeconds(samples, CONTROLLER);
        return value === undefined ? undefined : { value, at: Date.now(), samples };
      },
      sizes.timeoutMs,
      250,
    );
    const callsUntilObserved = callsBetween(callsBefore, snapshotCalls(bird));
    const eventsUntilObserved = eventWrites(diffGroups(apiBefore, await apiserverWrites(cluster)));
    const operatorUntilObserved = operatorDeltas([], found?.samples ?? sampler.samples);
    const readyzAt = await readyz;
    log(
      `scale: restart: ${found ? `all observed after ${round(found.value, 1)} s` : "NOT all observed"}; ` +
        `waiting for the operator to go quiet (no Bird call, no write for ${sizes.steadyMs} ms)`,
    );
    const activity = async (): Promise<number> =>
      bird.sim.callRecorder.count() + sumOf(await operator.metrics(), "bird_operator_kube_writes_total");
    const quiet = await waitQuiet(activity, sizes.steadyMs, sizes.timeoutMs);
    const quietAt = Date.now() - sizes.steadyMs;
    const steady = operator.memory();
    const after = await operator.metrics();
    const initialPasses = Object.fromEntries(
      after
        .filter((s) => s.name === "bird_operator_initial_reconcile_seconds")
        .map((s) => [s.labels.controller ?? "", s.value]),
    );
    return {
      observed: found !== undefined,
      gaugeSeconds: found === undefined ? undefined : round(found.value, 3),
      detectedSeconds: found === undefined ? undefined : seconds(found.at - operator.startedAt),
      readyzSeconds: readyzAt === undefined ? undefined : seconds(readyzAt - operator.startedAt),
      quietSeconds: quiet ? seconds(quietAt - operator.startedAt) : undefined,
      initialPasses,
      callsUntilObserved,
      calls: callsBetween(callsBefore, snapshotCalls(bird)),
      operatorUntilObserved,
      eventsUntilObserved,
      operator: operatorDeltas([], after),
      events: eventWrites(diffGroups(apiBefore, await apiserverWrites(cluster))),
      peakRssBytes: Math.max(sampler.peakRss, steady?.peakBytes ?? 0),
      steadyRssBytes: steady?.rssBytes,
      processResidentBytes: sumOf(after, "process_resident_memory_bytes"),
      heapUsedBytes: sumOf(after, "nodejs_heap_size_used_bytes"),
      stillReady: countWhere(tracker, keys, (pn) => pn !== undefined && isReady(pn)),
      timeline: sampler.timeline,
    };
  } finally {
    await sampler.stop();
    await operator.stop();
  }
}

/**
 * A restart of an operator that manages M already provisioned PhoneNumbers. Set-up: M numbers in the simulator's
 * workspace, M PhoneNumbers naming them (spec.numberString), a first operator that adopts them all (reported as the
 * adoption figures) and fetches their subscription dates, then stops. Timed: a fresh operator, from its spawn until
 * every PhoneNumber was reconciled once (observed against Bird's inventory, nothing to write), then its peak and
 * steady resident set. Memory comes from /proc/<pid>/status (VmRSS, VmHWM) and /metrics.
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
      if (kind && count > 0)
        numberStrings.push(
          ...bird.sim
            .addNumbers({ countryCode: kind.countryCode, type: kind.type, count, workspaceId: DEFAULT_WORKSPACE_ID })
            .map((n) => n.numberString),
        );
    }
    const fixture = await createFixture(cluster, bird.url, "scale");
    // The same process with nothing to manage (it checks the workspace, so the adoption starts from a Ready one).
    const warmup = await BenchOperator.start({
      ...operatorOptions(ctx, fixture),
      logFile: join(ctx.workDir, "scale-warmup-operator.log"),
    });
    await warmup.waitReady();
    await waitWorkspaceReady(cluster, fixture);
    await sleep(2000);
    const baseline = warmup.memory();
    await warmup.stop();

    const manifests: Manifest[] = numberStrings.map((numberString, i) => phoneNumberToAdopt(fixture, i, numberString));
    log(`scale: set-up: creating ${m} PhoneNumbers to adopt`);
    const created = await createAll(cluster, manifests);
    const tracker = new ReadyTracker<PhoneNumber>(
      cluster,
      `${CRD_BASE}/namespaces/${fixture.namespace}/${PHONE_NUMBER_PLURAL}`,
    );
    await tracker.start();
    const keys = manifests.map(keyOf);
    const workspaceNumbers = bird.sim.snapshot(false).workspaces[0]?.numberCount ?? m;
    const listPages = Math.ceil(workspaceNumbers / PAGE);
    try {
      const adoption = await adopt(ctx, bird, fixture, tracker, keys);
      const adoptionWrites =
        total(adoption.writesUntilReady.crd) +
        adoption.writesUntilReady.events.creates +
        adoption.writesUntilReady.events.patches;
      const adoptionWritesAll = total(adoption.operator.kubeWrites) + adoption.events.creates + adoption.events.patches;
      const adoptionFigures = (bare?: { seconds: number; writes: number; writesPerSecond: number }): Figure[] => {
        const birdSeconds = Math.max(0, listPages - BIRD_GET_BURST) / BIRD_GET_PER_SECOND;
        const birdWithSubscriptions = Math.max(0, listPages + m - BIRD_GET_BURST) / BIRD_GET_PER_SECOND;
        return [
          info(
            "adoption: time to all Ready",
            adoption.allReadySeconds,
            "s",
            `set-up, not the goal: ${m} PhoneNumbers without status, from the adopting operator's spawn`,
          ),
          info(
            "adoption: Kubernetes writes until all Ready",
            adoptionWrites,
            "",
            `until quiet (subscription dates included): ${adoptionWritesAll}`,
          ),
          info(
            "adoption: bound: bare client, writes until Ready",
            bare?.seconds,
            "s",
            bare ? `${bare.writes} writes at ${Math.round(bare.writesPerSecond)}/s` : undefined,
          ),
          info(
            "adoption: all Ready / bare-client bound",
            adoption.allReadySeconds === undefined || !bare ? undefined : adoption.allReadySeconds / bare.seconds,
            "",
          ),
          info(
            "adoption: bound: Bird GETs",
            birdSeconds,
            "s",
            `${listPages} list pages; with one subscription GET per number: ${round(birdWithSubscriptions)} s`,
          ),
          info(
            "adoption: time to subscription dates",
            adoption.datesSeconds,
            "s",
            `every status with its dates and price (${m} deferred GETs), from spawn`,
          ),
          info("adoption: peak RSS", round(adoption.peakRssBytes / MB, 1), "MB", "VmHWM of the adopting operator"),
        ];
      };
      const adoptionDetails = {
        readyzSeconds: adoption.readyzSeconds,
        allReadySeconds: adoption.allReadySeconds,
        datesSeconds: adoption.datesSeconds,
        quietSeconds: adoption.quietSeconds,
        birdCallsUntilReady: adoption.callsUntilReady,
        birdCalls: adoption.calls,
        kubeWritesUntilReady: {
          ...adoption.writesUntilReady.crd,
          "Event create": adoption.writesUntilReady.events.creates,
          "Event patch": adoption.writesUntilReady.events.patches,
        },
        kubeWrites: {
          ...adoption.operator.kubeWrites,
          "Event create": adoption.events.creates,
          "Event patch": adoption.events.patches,
        },
        operator: adoption.operator,
        peakRssMB: round(adoption.peakRssBytes / MB, 1),
        steadyRssMB: adoption.steadyRssBytes === undefined ? undefined : round(adoption.steadyRssBytes / MB, 1),
        timeline: adoption.timeline,
      };
      if (!adoption.allReady) {
        return {
          scenario: "scale",
          status: "failed",
          reason: `set-up: ${adoption.reason ?? "not all Ready"}`,
          startedAt: startedAt.toISOString(),
          durationSeconds: seconds(Date.now() - startedAt.getTime()),
          figures: adoptionFigures(),
          details: { numbers: m, adoption: adoptionDetails },
        };
      }

      // What the restart finds: a status without its subscription details costs one GET and one status write.
      const withoutDates = keys.filter((key) => !hasSubscriptionDetails(tracker.informer.get(key)));
      const notReadyAtRestart = keys.length - countWhere(tracker, keys, (pn) => pn !== undefined && isReady(pn));
      const timed = await restart(ctx, bird, fixture, tracker, keys);

      // The adoption's writes replayed by a bare client,
      // after the restart so that it does not load the API server meanwhile.
      log(`scale: measuring the bare client for the adoption's writes`);
      const bare = await bareClientWrites(
        cluster,
        {
          crd: adoption.writesUntilReady.crd,
          eventCreates: adoption.writesUntilReady.events.creates,
          eventPatches: adoption.writesUntilReady.events.patches,
        },
        { PhoneNumber: m, AlphaSender: 0, BirdWorkspace: 1 },
      );

      const restartWrites =
        total(timed.operatorUntilObserved.kubeWrites) +
        timed.eventsUntilObserved.creates +
        timed.eventsUntilObserved.patches;
      const restartWritesAll = total(timed.operator.kubeWrites) + timed.events.creates + timed.events.patches;
      const figures: Figure[] = [
        underGoal(
          "restart: time from operator start to all observed",
          timed.gaugeSeconds,
          "s",
          GOAL_SECONDS,
          `bird_operator_initial_reconcile_seconds{controller="${CONTROLLER}"}: ` +
            `process start to the last of ${m} PhoneNumbers reconciled once`,
        ),
        underGoal("peak RSS", round(timed.peakRssBytes / MB, 1), "MB", GOAL_MB, "VmHWM of the restarted operator"),
        underGoal(
          "steady RSS",
          timed.steadyRssBytes === undefined ? undefined : round(timed.steadyRssBytes / MB, 1),
          "MB",
          GOAL_MB,
          `VmRSS once the restarted operator was quiet for ${Math.round(sizes.steadyMs / 1000)} s`,
        ),
        info(
          "baseline RSS (no objects)",
          baseline ? round(baseline.rssBytes / MB, 1) : undefined,
          "MB",
          "the same process with an empty namespace",
        ),
        underGoal(
          "restart: Bird GETs until observed",
          timed.callsUntilObserved.gets,
          "",
          listPages + 1,
          `goal ceil(${workspaceNumbers}/${PAGE}) = ${listPages} list pages + the workspace check; ` +
            `${timed.callsUntilObserved.posts} POSTs; until quiet: ${timed.calls.gets} GETs`,
        ),
        underGoal(
          "restart: Kubernetes writes until observed",
          restartWrites,
          "",
          0,
          `until quiet: ${restartWritesAll}`,
        ),
        info("restart: time from operator start to quiet", timed.quietSeconds, "s"),
        underGoal(
          "Bird 429s",
          adoption.calls.tooManyRequests + timed.calls.tooManyRequests,
          "",
          0,
          "adoption and restart",
        ),
        ...adoptionFigures(bare),
      ];
      return {
        scenario: "scale",
        status: timed.observed ? statusOf(figures) : "failed",
        reason: timed.observed
          ? undefined
          : `restart: the operator did not report its initial pass within ${sizes.timeoutMs} ms`,
        startedAt: startedAt.toISOString(),
        durationSeconds: seconds(Date.now() - startedAt.getTime()),
        figures,
        details: {
          numbers: m,
          workspaceNumbers,
          timing:
            "Set-up: M numbers in the simulator, " +
            "M PhoneNumbers (spec.numberString only) created while no operator runs; a first operator adopts them " +
            "(the adoption figures: from its spawn to the last one Ready, as the bench's watch sees it), " +
            "fetches the subscription dates it defers, goes quiet and is stopped. " +
            "Timed: a fresh operator (node --import tsx src/cli/main.ts run ..., or the compiled one) reports " +
            'bird_operator_initial_reconcile_seconds{controller="phonenumber"} on /metrics once every ' +
            "PhoneNumber present when its controller started was reconciled once: " +
            "seconds since its process started (process.uptime(), a few milliseconds after the spawn). " +
            "The bench polls /metrics every 250 ms (detectedSeconds: spawn to the scrape that saw it).",
          createSeconds: seconds(created.lastAt - created.firstAt),
          atRestart: {
            statusesWithoutSubscriptionDetails: withoutDates.length,
            examples: withoutDates.slice(0, 5),
            notReady: notReadyAtRestart,
            note:
              "A status without its subscription dates and price costs the restart one subscription GET " +
              "(Bird allows 50 GET/s) and one status write; the set-up waits for all of them.",
          },
          restart: {
            gaugeSeconds: timed.gaugeSeconds,
            detectedSeconds: timed.detectedSeconds,
            readyzSeconds: timed.readyzSeconds,
            quietSeconds: timed.quietSeconds,
            initialReconcileSeconds: timed.initialPasses,
            stillReady: timed.stillReady,
            birdCallsUntilObserved: timed.callsUntilObserved,
            birdCalls: timed.calls,
            expectedListPages: listPages,
            kubeWritesUntilObserved: {
              ...timed.operatorUntilObserved.kubeWrites,
              "Event create": timed.eventsUntilObserved.creates,
              "Event patch": timed.eventsUntilObserved.patches,
            },
            kubeWrites: {
              ...timed.operator.kubeWrites,
              "Event create": timed.events.creates,
              "Event patch": timed.events.patches,
            },
            operator: timed.operator,
            timeline: timed.timeline,
          },
          memory: {
            peakRssMB: round(timed.peakRssBytes / MB, 1),
            steadyRssMB: timed.steadyRssBytes === undefined ? undefined : round(timed.steadyRssBytes / MB, 1),
            processResidentMemoryMB: round(timed.processResidentBytes / MB, 1),
            heapUsedMB: round(timed.heapUsedBytes / MB, 1),
            baselineRssMB: baseline ? round(baseline.rssBytes / MB, 1) : undefined,
            runtime: ctx.runtime,
            note:
              "Of the restarted operator. process_resident_memory_bytes is on /metrics " +
              "(main.ts enables prom-client's default metrics). " +
              (ctx.runtime === "tsx"
                ? "The process runs through tsx, " +
                  "whose loader thread and transpiled sources are part of the resident set " +
                  "(compare the baseline with --runtime compiled)."
                : "The process runs the tsc output, as the container image does."),
          },
          adoption: { ...adoptionDetails, bareClient: bare },
        },
      };
    } finally {
      await tracker.stop();
    }
  } finally {
    await bird.close();
  }
}

function operatorOptions(ctx: BenchContext, fixture: Fixture): Omit<BenchOperatorOptions, "logFile"> {
  return {
    kubeconfigPath: ctx.cluster.kubeconfigPath,
    namespace: fixture.namespace,
    workspaceSelector: fixture.selector,
    resync: "10m",
    workers: ctx.workers,
    runtime: ctx.runtime,
  };
}
