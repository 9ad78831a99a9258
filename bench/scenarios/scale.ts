import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { PHONE_NUMBER_PLURAL, type PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { formatMoney } from "../../src/bird/money.js";
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
import { bareClientWrites, type BareClientResult } from "../lib/bound.js";
import { apiserverWrites, CRD_BASE, createFixture, waitWorkspaceReady } from "../lib/cluster.js";
import type { Fixture } from "../../test/support/fixtures.js";
import {
  readTemplate,
  settleWorkspaceSpend,
  writeClones,
  type CloneResult,
  type CloneTemplate,
  type CloneWork,
} from "../lib/clone.js";
import type { BenchContext, ScaleSetup } from "../lib/context.js";
import { createAll, KUBE_CONCURRENCY, type CreateTiming } from "../lib/kube.js";
import { BenchOperator, type BenchOperatorOptions } from "../lib/operator-process.js";
import {
  eventWrites,
  initialReconcileSeconds,
  initialReconcileSecondsFromLog,
  operatorDeltas,
  total,
  type OperatorDeltas,
} from "../lib/operator-metrics.js";
import { diffGroups, sumOf, type Sample } from "../lib/prom.js";
import { info, statusOf, underGoal, type Figure, type ScenarioResult } from "../lib/report.js";
import { ReadyTracker, waitQuiet } from "../lib/tracker.js";
import { pollUntil, round, seconds, seededPermutation, sleep } from "../lib/util.js";
import { keyOf, NUMBER_KINDS, phoneNumberToAdopt, type Manifest } from "../lib/workload.js";

/** Issue #20's goals, for 10,000 to 100,000 numbers. */
const GOAL_SECONDS = 60;
const GOAL_MB = 400;
const MB = 1024 * 1024;
/** Bird's page size for the inventory's number lists. */
const PAGE = 99;
/** The operator's PhoneNumber controller: the one whose initial pass the restart is timed by. */
const CONTROLLER = "phonenumber";

type Events = { creates: number; patches: number };

/**
 * /metrics is scraped every 5 s, as often as a Prometheus would at most: each scrape makes the operator count its
 * 100,000 objects for the per-object views, and four scrapes a second cost it about 8 % of its restart's CPU.
 */
const SCRAPE_EVERY_TICKS = 20;

/**
 * Peak and last resident set of one operator process (from /proc, every 250 ms), its /metrics every 5 s, and a
 * timeline point every second.
 */
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
        if (tick % SCRAPE_EVERY_TICKS === 0) await this.refresh();
        if (tick++ % 4 === 0) {
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
  const logFile = join(ctx.workDir, "scale-operator.log");
  const logFrom = existsSync(logFile) ? statSync(logFile).size : 0;
  const operator = await BenchOperator.start({
    ...operatorOptions(ctx, fixture),
    logFile,
    cpuProfDir: ctx.cpuProf ? join(ctx.workDir, "profiles-scale") : undefined,
    heapSnapshotDir: ctx.heapSnapshot ? join(ctx.workDir, "heap-scale") : undefined,
  });
  const sampler = new Sampler(operator, (s) => ({
    reconciles: sumOf(s.samples, "controller_runtime_reconcile_total", { controller: CONTROLLER }),
    birdGets: callsBetween(callsBefore, snapshotCalls(bird)).gets,
  }));
  try {
    const readyz = operator.waitReady(sizes.timeoutMs).catch(() => undefined);
    // The operator logs its initial pass with the gauge's value: the bench waits for the line, not on /metrics.
    const found = await pollUntil(
      () => {
        if (!operator.running)
          throw new Error(`the operator exited with ${operator.exit?.code}:\n${operator.tail(40)}`);
        const value = initialReconcileSecondsFromLog(logFile, logFrom, CONTROLLER);
        return Promise.resolve(value === undefined ? undefined : { value, at: Date.now() });
      },
      sizes.timeoutMs,
      250,
    );
    const samples = await sampler.refresh();
    const gauge = found && initialReconcileSeconds(samples, CONTROLLER);
    if (found && gauge !== undefined) found.value = gauge;
    const callsUntilObserved = callsBetween(callsBefore, snapshotCalls(bird));
    const eventsUntilObserved = eventWrites(diffGroups(apiBefore, await apiserverWrites(cluster)));
    const operatorUntilObserved = operatorDeltas([], samples);
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
    if (ctx.heapSnapshot) {
      const file = await operator.writeHeapSnapshot(join(ctx.workDir, "heap-scale"));
      log(`scale: restart: heap snapshot ${file ?? "not written within 2 minutes"}`);
    }
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

/** Above this many numbers, `--scale-setup auto` clones instead of adopting them all. */
export const CLONE_ABOVE = 10_000;
/** Numbers per kind the adopting operator adopts when the set-up clones: the templates (26 for 13 kinds). */
const SAMPLE_PER_KIND = 2;
/** Seed of the permutation that maps PhoneNumber names to Bird numbers (the issue's number). */
const PERMUTATION_SEED = 20;

export interface ScaleOptions {
  numbers: number;
  setup: ScaleSetup;
  /** Names the result (`100k`) when the scenario runs at several sizes. */
  variant?: string;
}

/** `100k` for 100,000 numbers: that run's results go to `<date>-scale-100k.json`. */
export function scaleVariant(numbers: number): string {
  return `${numbers / 1000}k`;
}

function setupMode(setup: ScaleSetup, m: number): "adopt" | "clone" {
  return setup === "auto" ? (m > CLONE_ABOVE ? "clone" : "adopt") : setup;
}

/** One number in the simulator's workspace and its kind (index in NUMBER_KINDS). */
interface Stocked {
  id: string;
  numberString: string;
  kind: number;
}

/** M numbers in the simulator's workspace, spread over NUMBER_KINDS, in creation order (the order Bird lists). */
function stockWorkspace(bird: RunningSimulator, m: number): Stocked[] {
  const stocked: Stocked[] = [];
  NUMBER_KINDS.forEach((kind, k) => {
    const count = Math.floor(m / NUMBER_KINDS.length) + (k < m % NUMBER_KINDS.length ? 1 : 0);
    if (count === 0) return;
    const { countryCode, type } = kind;
    for (const n of bird.sim.addNumbers({ countryCode, type, count, workspaceId: DEFAULT_WORKSPACE_ID }))
      stocked.push({ id: n.id, numberString: n.numberString, kind: k });
  });
  return stocked;
}

/** What the set-up builds: M PhoneNumbers, `pn-<i>` naming `stocked[assignment[i]]`. */
interface ScaleWorld {
  mode: "adopt" | "clone";
  fixture: Fixture;
  stocked: Stocked[];
  /** A seeded permutation: Bird lists its numbers by creation, the operator's informer its PhoneNumbers by name. */
  assignment: number[];
  manifests: Manifest[];
  keys: string[];
  /** Indexes of the PhoneNumbers the first operator adopts: all of them, or SAMPLE_PER_KIND of each kind. */
  adopted: number[];
}

function planWorld(mode: ScaleWorld["mode"], fixture: Fixture, stocked: Stocked[]): ScaleWorld {
  const assignment = seededPermutation(stocked.length, PERMUTATION_SEED);
  const manifests = assignment.map((n, i) => phoneNumberToAdopt(fixture, i, stocked[n]?.numberString ?? ""));
  const adopted: number[] = [];
  const perKind = new Map<number, number>();
  assignment.forEach((n, i) => {
    const kind = stocked[n]?.kind ?? -1;
    const taken = perKind.get(kind) ?? 0;
    if (mode === "clone" && taken >= SAMPLE_PER_KIND) return;
    perKind.set(kind, taken + 1);
    adopted.push(i);
  });
  return { mode, fixture, stocked, assignment, manifests, keys: manifests.map(keyOf), adopted };
}

/** The operator with an empty namespace: it checks the workspace (Ready for the adoption) and gives the baseline. */
async function baselineMemory(ctx: BenchContext, fixture: Fixture): Promise<{ rssBytes: number } | undefined> {
  const warmup = await BenchOperator.start({
    ...operatorOptions(ctx, fixture),
    logFile: join(ctx.workDir, "scale-warmup-operator.log"),
  });
  try {
    await warmup.waitReady();
    await waitWorkspaceReady(ctx.cluster, fixture);
    await sleep(2000);
    return warmup.memory();
  } finally {
    await warmup.stop();
  }
}

/**
 * Clone mode, after the sample's adoption: per kind, one adopted sample's PhoneNumber and BirdNumber are copied for
 * every other PhoneNumber of that kind, with its own number's values (see bench/lib/clone.ts); then the workspace's
 * spend is brought to what the operator would show with every record.
 */
async function cloneRest(ctx: BenchContext, bird: RunningSimulator, world: ScaleWorld): Promise<CloneResult> {
  const templates = await templatesByKind(ctx, bird, world);
  const work = cloneWork(world, templates);
  ctx.log(
    `scale: set-up: cloning ${work.length} PhoneNumbers and their BirdNumbers from ${templates.size} adopted ` +
      `samples (one per kind), ${KUBE_CONCURRENCY} numbers in flight`,
  );
  const started = performance.now();
  const clone = await writeClones(ctx.cluster, bird, work, ctx.log);
  const spend = await settleWorkspaceSpend(ctx.cluster, world.fixture.workspace);
  if (spend) {
    clone.workspaceSpend = { before: formatMoney(spend.before), after: formatMoney(spend.after) };
    clone.writes += 1;
    ctx.log(
      `scale: set-up: the workspace's monthlySpend set from ${clone.workspaceSpend.before} ` +
        `to ${clone.workspaceSpend.after}, the sum of every record's price`,
    );
  }
  clone.seconds = seconds(performance.now() - started);
  clone.writesPerSecond = clone.writes / clone.seconds;
  ctx.log(`scale: set-up: ${clone.writes} clone writes in ${clone.seconds} s`);
  return clone;
}

function stockedFor(world: ScaleWorld, i: number): Stocked {
  return world.stocked[world.assignment[i] ?? -1] as Stocked;
}

/** The first adopted sample of each kind, read back from the API server. */
async function templatesByKind(
  ctx: BenchContext,
  bird: RunningSimulator,
  world: ScaleWorld,
): Promise<Map<number, CloneTemplate>> {
  const templates = new Map<number, CloneTemplate>();
  for (const i of world.adopted) {
    const { kind } = stockedFor(world, i);
    const name = world.manifests[i]?.metadata.name ?? "";
    if (!templates.has(kind)) templates.set(kind, await readTemplate(ctx.cluster, bird, world.fixture.namespace, name));
  }
  return templates;
}

/** Every PhoneNumber the first operator did not adopt, with its kind's template and its Bird number. */
function cloneWork(world: ScaleWorld, templates: Map<number, CloneTemplate>): CloneWork[] {
  const adopted = new Set(world.adopted);
  const work: CloneWork[] = [];
  world.manifests.forEach((manifest, i) => {
    if (adopted.has(i)) return;
    const { id, kind } = stockedFor(world, i);
    const template = templates.get(kind);
    if (!template) throw new Error(`set-up: no adopted sample of kind ${JSON.stringify(NUMBER_KINDS[kind])}`);
    work.push({ template, name: manifest.metadata.name, numberId: id });
  });
  return work;
}

interface SetUp {
  created: CreateTiming;
  adoption: Adoption;
  clone?: CloneResult;
  /** Why the set-up did not leave M Ready PhoneNumbers with complete statuses. */
  failure?: string;
}

/** Creates the PhoneNumbers to adopt, lets a first operator adopt them, and in clone mode writes the rest. */
async function setUp(
  ctx: BenchContext,
  bird: RunningSimulator,
  world: ScaleWorld,
  tracker: ReadyTracker<PhoneNumber>,
): Promise<SetUp> {
  const adopted = world.adopted.map((i) => world.manifests[i] as Manifest);
  ctx.log(
    `scale: set-up (${world.mode}): creating ${adopted.length} PhoneNumbers to adopt` +
      (world.mode === "clone" ? ` (${SAMPLE_PER_KIND} per kind) of ${world.keys.length}` : ""),
  );
  const created = await createAll(ctx.cluster, adopted);
  const adoption = await adopt(ctx, bird, world.fixture, tracker, adopted.map(keyOf));
  if (!adoption.allReady) return { created, adoption, failure: adoption.reason ?? "not all Ready" };
  if (world.mode === "adopt") return { created, adoption };
  if (adoption.datesSeconds === undefined) return { created, adoption, failure: "the sample lacks subscription dates" };
  const clone = await cloneRest(ctx, bird, world);
  const seen = await tracker.waitReady(world.keys, ctx.sizes.timeoutMs);
  const failure = seen
    ? undefined
    : `the bench's watch did not see every clone Ready: ${JSON.stringify(tracker.notReadyReasons(world.keys))}`;
  return { created, adoption, clone, failure };
}

/**
 * A restart of an operator that manages M already provisioned PhoneNumbers. Set-up: M numbers in the simulator's
 * workspace and M PhoneNumbers naming them (spec.numberString, through a seeded permutation). A first operator adopts
 * them all (adopt; reported as the adoption figures) or a sample of them that the bench then clones (clone), fetches
 * their subscription dates, and stops. Timed: a fresh operator, from its spawn until every PhoneNumber was reconciled
 * once (observed against Bird's inventory, nothing to write), then its peak and steady resident set. Memory comes
 * from /proc/<pid>/status (VmRSS, VmHWM) and /metrics.
 */
export async function runScale(ctx: BenchContext, options?: ScaleOptions): Promise<ScenarioResult> {
  const startedAt = new Date();
  const m = options?.numbers ?? ctx.sizes.scaleNumbers;
  const bird = await startBenchSimulator();
  try {
    const stocked = stockWorkspace(bird, m);
    const fixture = await createFixture(ctx.cluster, bird.url, "scale");
    const baseline = await baselineMemory(ctx, fixture);
    const world = planWorld(setupMode(options?.setup ?? "auto", m), fixture, stocked);
    const tracker = new ReadyTracker<PhoneNumber>(
      ctx.cluster,
      `${CRD_BASE}/namespaces/${fixture.namespace}/${PHONE_NUMBER_PLURAL}`,
    );
    await tracker.start();
    try {
      const setup = await setUp(ctx, bird, world, tracker);
      const result = setup.failure
        ? setUpFailed(ctx, world, setup, startedAt)
        : await timedRestart(ctx, bird, world, tracker, { setup, baseline, startedAt });
      return { ...result, variant: options?.variant };
    } finally {
      await tracker.stop();
    }
  } finally {
    await bird.close();
  }
}

/** The shape figures and notes are phrased in. */
interface Shape {
  m: number;
  mode: ScaleWorld["mode"];
  /** PhoneNumbers the first operator adopted. */
  adopted: number;
  workspaceNumbers: number;
  listPages: number;
}

function shapeOf(bird: RunningSimulator, world: ScaleWorld): Shape {
  const workspaceNumbers = bird.sim.snapshot(false).workspaces[0]?.numberCount ?? world.keys.length;
  return {
    m: world.keys.length,
    mode: world.mode,
    adopted: world.adopted.length,
    workspaceNumbers,
    listPages: Math.ceil(workspaceNumbers / PAGE),
  };
}

function setUpFailed(ctx: BenchContext, world: ScaleWorld, setup: SetUp, startedAt: Date): ScenarioResult {
  return {
    scenario: "scale",
    status: "failed",
    reason: `set-up: ${setup.failure}`,
    startedAt: startedAt.toISOString(),
    durationSeconds: seconds(Date.now() - startedAt.getTime()),
    figures: [...adoptionFigures(world, setup.adoption), ...cloneFigures(setup.clone)],
    details: { numbers: world.keys.length, setup: world.mode, adoption: adoptionDetails(setup.adoption) },
  };
}

/** The restart, timed; then the bare client for the adoption's writes; then the result. */
async function timedRestart(
  ctx: BenchContext,
  bird: RunningSimulator,
  world: ScaleWorld,
  tracker: ReadyTracker<PhoneNumber>,
  run: { setup: SetUp; baseline?: { rssBytes: number }; startedAt: Date },
): Promise<ScenarioResult> {
  const { keys } = world;
  const { adoption } = run.setup;
  const shape = shapeOf(bird, world);
  // What the restart finds: a status without its subscription details costs one GET and one status write.
  const withoutDates = keys.filter((key) => !hasSubscriptionDetails(tracker.informer.get(key)));
  const notReady = keys.length - countWhere(tracker, keys, (pn) => pn !== undefined && isReady(pn));
  const timed = await restart(ctx, bird, world.fixture, tracker, keys);
  // The adoption's writes replayed by a bare client, after the restart so that it does not load the API server.
  ctx.log(`scale: measuring the bare client for the adoption's writes`);
  const bare = await bareClientWrites(
    ctx.cluster,
    {
      crd: adoption.writesUntilReady.crd,
      eventCreates: adoption.writesUntilReady.events.creates,
      eventPatches: adoption.writesUntilReady.events.patches,
    },
    { PhoneNumber: shape.adopted, AlphaSender: 0, BirdWorkspace: 1 },
  );
  const baselineMB = run.baseline ? round(run.baseline.rssBytes / MB, 1) : undefined;
  const figures: Figure[] = [
    ...restartFigures(ctx, shape, timed, adoption, baselineMB),
    ...cloneFigures(run.setup.clone),
    ...adoptionFigures(world, adoption, bare),
  ];
  return {
    scenario: "scale",
    status: timed.observed ? statusOf(figures) : "failed",
    reason: timed.observed
      ? undefined
      : `restart: the operator did not report its initial pass within ${ctx.sizes.timeoutMs} ms`,
    startedAt: run.startedAt.toISOString(),
    durationSeconds: seconds(Date.now() - run.startedAt.getTime()),
    figures,
    details: {
      numbers: shape.m,
      workspaceNumbers: shape.workspaceNumbers,
      setup: shape.mode,
      timing: timingNote(shape),
      createSeconds: seconds(run.setup.created.lastAt - run.setup.created.firstAt),
      atRestart: {
        statusesWithoutSubscriptionDetails: withoutDates.length,
        examples: withoutDates.slice(0, 5),
        notReady,
        note:
          "A status without its subscription dates and price costs the restart one subscription GET " +
          "(Bird allows 50 GET/s) and one status write; the set-up waits for all of them.",
      },
      restart: restartDetails(timed, shape),
      memory: memoryDetails(ctx, timed, baselineMB),
      adoption: { ...adoptionDetails(adoption), adopted: shape.adopted, bareClient: bare },
      clone: run.setup.clone,
      permutation: { seed: PERMUTATION_SEED, first: world.assignment.slice(0, 10) },
    },
  };
}

function timingNote(shape: Shape): string {
  const setup =
    shape.mode === "adopt"
      ? "A first operator adopts them all (the adoption figures: from its spawn to the last one Ready, as the " +
        "bench's watch sees it), fetches the subscription dates it defers, goes quiet and is stopped. "
      : `A first operator adopts a sample (${SAMPLE_PER_KIND} per number kind, ${shape.adopted} in all) the same ` +
        "way and is stopped; the bench then writes the other PhoneNumbers and their BirdNumber records as the " +
        "operator left the sample's (one template per kind, every number-specific value replaced by the number's " +
        "own from the simulator): at this size the deferred subscription GETs alone would take M / 50 s of " +
        "Bird's GET bucket. ";
  return (
    `Set-up: M numbers in the simulator, M PhoneNumbers (spec.numberString only) created while no operator runs; ` +
    `PhoneNumber pn-<i> names the number at position permutation[i] of Bird's list (a permutation seeded with ` +
    `${PERMUTATION_SEED}), so that Bird's list order (by creation) is not the order the informer lists ` +
    `PhoneNumbers in (by name). ${setup}` +
    "Timed: a fresh operator (node --import tsx src/cli/main.ts run ..., or the compiled one) reports " +
    'bird_operator_initial_reconcile_seconds{controller="phonenumber"} on /metrics once every ' +
    "PhoneNumber present when its controller started was reconciled once: " +
    "seconds since its process started (process.uptime(), a few milliseconds after the spawn). " +
    "The bench polls /metrics every 250 ms (detectedSeconds: spawn to the scrape that saw it)."
  );
}

function restartFigures(
  ctx: BenchContext,
  shape: Shape,
  timed: Restart,
  adoption: Adoption,
  baselineMB: number | undefined,
): Figure[] {
  const peakMB = round(timed.peakRssBytes / MB, 1);
  const steadyMB = timed.steadyRssBytes === undefined ? undefined : round(timed.steadyRssBytes / MB, 1);
  const restartWrites =
    total(timed.operatorUntilObserved.kubeWrites) +
    timed.eventsUntilObserved.creates +
    timed.eventsUntilObserved.patches;
  const restartWritesAll = total(timed.operator.kubeWrites) + timed.events.creates + timed.events.patches;
  return [
    underGoal(
      "restart: time from operator start to all observed",
      timed.gaugeSeconds,
      "s",
      GOAL_SECONDS,
      `bird_operator_initial_reconcile_seconds{controller="${CONTROLLER}"}: ` +
        `process start to the last of ${shape.m} PhoneNumbers reconciled once`,
    ),
    underGoal("peak RSS", peakMB, "MB", GOAL_MB, "VmHWM of the restarted operator"),
    underGoal(
      "steady RSS",
      steadyMB,
      "MB",
      GOAL_MB,
      `VmRSS once the restarted operator was quiet for ${Math.round(ctx.sizes.steadyMs / 1000)} s`,
    ),
    info("baseline RSS (no objects)", baselineMB, "MB", "the same process with an empty namespace"),
    ...perThousand(shape.m, peakMB, steadyMB, baselineMB),
    underGoal(
      "restart: Bird GETs until observed",
      timed.callsUntilObserved.gets,
      "",
      shape.listPages + 1,
      `goal ceil(${shape.workspaceNumbers}/${PAGE}) = ${shape.listPages} list pages + the workspace check; ` +
        `${timed.callsUntilObserved.posts} POSTs; until quiet: ${timed.calls.gets} GETs`,
    ),
    underGoal("restart: Kubernetes writes until observed", restartWrites, "", 0, `until quiet: ${restartWritesAll}`),
    info("restart: time from operator start to quiet", timed.quietSeconds, "s"),
    underGoal(
      "Bird 429s",
      adoption.calls.tooManyRequests + timed.calls.tooManyRequests,
      "",
      0,
      shape.mode === "clone" ? "the sample's adoption and the restart" : "adoption and restart",
    ),
  ];
}

/** (RSS - baseline RSS) / (M / 1000): what 1,000 PhoneNumbers (with their records and Bird numbers) cost. */
function perThousand(
  m: number,
  peakMB: number,
  steadyMB: number | undefined,
  baselineMB: number | undefined,
): Figure[] {
  const per = (mb: number | undefined): number | undefined =>
    mb === undefined || baselineMB === undefined ? undefined : round((mb - baselineMB) / (m / 1000), 2);
  return [
    info("RSS per 1,000 objects (peak)", per(peakMB), "MB", "(peak RSS - baseline RSS) / (M / 1000)"),
    info("RSS per 1,000 objects (steady)", per(steadyMB), "MB", "(steady RSS - baseline RSS) / (M / 1000)"),
  ];
}

function cloneFigures(clone: CloneResult | undefined): Figure[] {
  if (!clone) return [];
  return [
    info(
      "set-up: clone writes",
      clone.writes,
      "",
      `${clone.numbers} PhoneNumbers (create, status patch) and their BirdNumbers (create with status: no status ` +
        `subresource), ${clone.concurrency} in flight, ${Math.round(clone.writesPerSecond)}/s` +
        (clone.workspaceSpend ? `; the BirdWorkspace's monthlySpend, summed over every record` : ""),
    ),
    info("set-up: clone writes, seconds", clone.seconds, "s", "not the goal: the bench's own writes"),
  ];
}

/** The first operator's figures: all M adopted (adopt), or the sample's (clone). Set-up, not the goal. */
function adoptionFigures(world: ScaleWorld, adoption: Adoption, bare?: BareClientResult): Figure[] {
  const n = world.adopted.length;
  const label = world.mode === "clone" ? `set-up: sample adoption (${n})` : "adoption";
  const listPages = Math.ceil(world.stocked.length / PAGE);
  const birdSeconds = Math.max(0, listPages - BIRD_GET_BURST) / BIRD_GET_PER_SECOND;
  const birdWithSubscriptions = Math.max(0, listPages + n - BIRD_GET_BURST) / BIRD_GET_PER_SECOND;
  const writes = (crd: Record<string, number>, events: Events): number => total(crd) + events.creates + events.patches;
  return [
    info(
      `${label}: time to all Ready`,
      adoption.allReadySeconds,
      "s",
      `set-up, not the goal: ${n} PhoneNumbers without status, from the adopting operator's spawn`,
    ),
    info(
      `${label}: Kubernetes writes until all Ready`,
      writes(adoption.writesUntilReady.crd, adoption.writesUntilReady.events),
      "",
      `until quiet (subscription dates included): ${writes(adoption.operator.kubeWrites, adoption.events)}`,
    ),
    info(
      `${label}: bound: bare client, writes until Ready`,
      bare?.seconds,
      "s",
      bare ? `${bare.writes} writes at ${Math.round(bare.writesPerSecond)}/s` : undefined,
    ),
    info(
      `${label}: all Ready / bare-client bound`,
      adoption.allReadySeconds === undefined || !bare ? undefined : adoption.allReadySeconds / bare.seconds,
      "",
    ),
    info(
      `${label}: bound: Bird GETs`,
      birdSeconds,
      "s",
      `${listPages} list pages; with one subscription GET per number: ${round(birdWithSubscriptions)} s`,
    ),
    info(
      `${label}: time to subscription dates`,
      adoption.datesSeconds,
      "s",
      `every status with its dates and price (${n} deferred GETs), from spawn`,
    ),
    info(`${label}: peak RSS`, round(adoption.peakRssBytes / MB, 1), "MB", "VmHWM of the adopting operator"),
  ];
}

function adoptionDetails(adoption: Adoption): Record<string, unknown> {
  return {
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
}

function restartDetails(timed: Restart, shape: Shape): Record<string, unknown> {
  return {
    gaugeSeconds: timed.gaugeSeconds,
    detectedSeconds: timed.detectedSeconds,
    readyzSeconds: timed.readyzSeconds,
    quietSeconds: timed.quietSeconds,
    initialReconcileSeconds: timed.initialPasses,
    stillReady: timed.stillReady,
    birdCallsUntilObserved: timed.callsUntilObserved,
    birdCalls: timed.calls,
    expectedListPages: shape.listPages,
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
  };
}

function memoryDetails(ctx: BenchContext, timed: Restart, baselineMB: number | undefined): Record<string, unknown> {
  return {
    peakRssMB: round(timed.peakRssBytes / MB, 1),
    steadyRssMB: timed.steadyRssBytes === undefined ? undefined : round(timed.steadyRssBytes / MB, 1),
    processResidentMemoryMB: round(timed.processResidentBytes / MB, 1),
    heapUsedMB: round(timed.heapUsedBytes / MB, 1),
    baselineRssMB: baselineMB,
    runtime: ctx.runtime,
    note:
      "Of the restarted operator. process_resident_memory_bytes is on /metrics " +
      "(main.ts enables prom-client's default metrics). " +
      (ctx.runtime === "tsx"
        ? "The process runs through tsx, " +
          "whose loader thread and transpiled sources are part of the resident set " +
          "(compare the baseline with --runtime compiled)."
        : "The process runs the tsc output, as the container image does."),
  };
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
