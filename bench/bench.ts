import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LATENCY, PROVISIONING_DELAY_MS } from "./lib/bird.js";
import { openCluster, type BenchCluster } from "./lib/cluster.js";
import { buildCompiledOperator, type OperatorRuntime } from "./lib/operator-process.js";
import { SCENARIOS, type BenchContext, type BenchSizes, type ScaleSetup, type ScenarioName } from "./lib/context.js";
import { scenarioLabel, summaryTable, writeResult, type RunInfo, type ScenarioResult } from "./lib/report.js";
import { machineInfo } from "./lib/util.js";
import { runIdle } from "./scenarios/idle.js";
import { runProvisioning, type ProvisionedWorld } from "./scenarios/provisioning.js";
import { runReaction } from "./scenarios/reaction.js";
import { runScale, scaleVariant } from "./scenarios/scale.js";

export interface BenchOptions {
  mode: string;
  sizes: BenchSizes;
  /** Where the JSON results go. */
  outDir: string;
  /** Suffix of the result files' names (`-quick` for quick runs). */
  suffix?: string;
  /** An existing cluster (e.g. the test suite's); default: start etcd + kube-apiserver for this run. */
  kubeconfigPath?: string;
  scenarios?: readonly ScenarioName[];
  /**
   * Sizes of the scale scenario, each run on a fresh control plane, its file named `<date>-scale-<n/1000>k.json`.
   * Default: one run at `sizes.scaleNumbers`, its file named `<date>-scale.json`.
   */
  scaleNumbers?: readonly number[];
  /** The scale scenario's set-up (default auto: adopt up to 10,000 numbers, clone above). */
  scaleSetup?: ScaleSetup;
  workers?: number;
  cpuProf?: boolean;
  /** Write a heap snapshot of the restarted scale operator once it is quiet. */
  heapSnapshot?: boolean;
  runtime?: OperatorRuntime;
  /** Operator logs and profiles; default a fresh temporary directory. */
  workDir?: string;
  log?: (line: string) => void;
}

export interface BenchRun {
  results: ScenarioResult[];
  files: string[];
  table: string;
  workDir: string;
}

/**
 * Runs the scenarios in the order that lets them share work: provisioning leaves its resources and operator for
 * reaction (idle queue, default resync) and then idle cost (restarted with a short resync); scale has its own
 * workspace and simulator, and runs once per size, each size after the first on a fresh control plane. Every result
 * is written as soon as its scenario ends, so a late failure keeps the rest.
 */
export async function runBench(options: BenchOptions): Promise<BenchRun> {
  const log = options.log ?? ((line: string): void => console.log(`[bench] ${line}`));
  const wanted = new Set(options.scenarios ?? SCENARIOS);
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), "bird-operator-bench-"));
  const workers = options.workers ?? 32;
  const runtime = options.runtime ?? "compiled";
  const scaleSizes = options.scaleNumbers ?? [options.sizes.scaleNumbers];
  if (wanted.has("scale") && options.kubeconfigPath && scaleSizes.length > 1)
    throw new Error(
      `--kubeconfig: ${scaleSizes.length} scale sizes need a fresh control plane each, ` +
        "which the bench cannot start for a cluster it did not start; give one size per run",
    );
  const run: RunInfo = {
    mode: options.mode,
    machine: machineInfo(),
    source: sourceVersion(),
    settings: {
      ...options.sizes,
      scaleSizes,
      scaleSetup: options.scaleSetup ?? "auto",
      workers,
      bird: {
        rateLimits: "GET 50/s, POST 500/s per workspace",
        latency: "50 +/- 20 ms",
        ...LATENCY,
        provisioningDelayMs: PROVISIONING_DELAY_MS,
      },
      cpuProf: options.cpuProf ?? false,
      operatorRuntime: runtime,
    },
  };
  log(`operator logs in ${workDir}`);
  if (runtime === "compiled") await buildCompiledOperator();
  const cluster = await openCluster(options.kubeconfigPath, log);
  const ctx: BenchContext = {
    cluster,
    sizes: options.sizes,
    workers,
    runtime,
    workDir,
    cpuProf: options.cpuProf ?? false,
    heapSnapshot: options.heapSnapshot ?? false,
    log,
  };
  const results: ScenarioResult[] = [];
  const files: string[] = [];
  const record = (result: ScenarioResult): void => {
    results.push(result);
    files.push(writeResult(options.outDir, run, result, options.suffix));
    log(`${scenarioLabel(result)}: ${result.status}${result.reason ? ` (${result.reason})` : ""}`);
  };
  const guarded = async (scenario: string, fn: () => Promise<void>, variant?: string): Promise<void> => {
    const startedAt = new Date();
    try {
      await fn();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      record({
        scenario,
        variant,
        status: "failed",
        reason: reason.slice(0, 2000),
        startedAt: startedAt.toISOString(),
        durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
        figures: [],
        details: {},
      });
    }
  };
  try {
    if (wanted.has("provisioning") || wanted.has("reaction") || wanted.has("idle")) {
      let world: ProvisionedWorld | undefined;
      await guarded("provisioning", async () => {
        const provisioned = await runProvisioning(ctx);
        world = provisioned.world;
        if (wanted.has("provisioning")) record(provisioned.result);
      });
      try {
        if (world && wanted.has("reaction"))
          await guarded("reaction", async () => record(await runReaction(ctx, world as ProvisionedWorld)));
        if (world && wanted.has("idle"))
          await guarded("idle", async () => record(await runIdle(ctx, world as ProvisionedWorld)));
      } finally {
        await world?.close();
      }
    }
    for (const [i, numbers] of (wanted.has("scale") ? scaleSizes : []).entries()) {
      // Each size on a fresh etcd and API server: neither the objects nor the watch cache of the previous size stay.
      if (i > 0) ctx.cluster = await freshCluster(ctx.cluster, log);
      const variant = options.scaleNumbers ? scaleVariant(numbers) : undefined;
      const setup = options.scaleSetup ?? "auto";
      await guarded("scale", async () => record(await runScale(ctx, { numbers, setup, variant })), variant);
    }
  } finally {
    await ctx.cluster.stop();
  }
  return { results, files, table: summaryTable(results), workDir };
}

async function freshCluster(cluster: BenchCluster, log: (line: string) => void): Promise<BenchCluster> {
  log("stopping the control plane; starting a fresh one for the next scale size");
  await cluster.stop();
  return openCluster(undefined, log);
}

/** The commit the operator ran from, and whether src/ had uncommitted changes (results depend on both). */
function sourceVersion(): { commit: string; srcDirty: boolean } | undefined {
  try {
    const git = (...args: string[]): string =>
      execFileSync("git", args, { cwd: new URL("..", import.meta.url), encoding: "utf8" }).trim();
    return {
      commit: git("rev-parse", "--short", "HEAD"),
      srcDirty: git("status", "--porcelain", "--", "src").length > 0,
    };
  } catch {
    return undefined;
  }
}
