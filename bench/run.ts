import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { runBench } from "./bench.js";
import { FULL, QUICK, SCALE_SETUPS, SCENARIOS, type ScaleSetup, type ScenarioName } from "./lib/context.js";
import { boundNotes } from "./lib/report.js";
import { findSnapshots, summarizeHeap } from "./heap-summary.js";
import { summarizeProfile } from "./profile-summary.js";

const RESULTS = fileURLToPath(new URL("./results", import.meta.url));

interface Flags {
  quick?: boolean;
  only?: string;
  kubeconfig?: string;
  out: string;
  workers: string;
  cpuProf?: boolean;
  heapSnapshot?: boolean;
  runtime: string;
  scaleNumbers?: string;
  scaleSetup: string;
}

/** `10000,30000,100000` -> [10000, 30000, 100000]; anything but positive integers is refused. */
function parseSizes(text: string): number[] {
  const sizes = text.split(",").map((s) => s.trim());
  const bad = sizes.filter((s) => !/^[1-9][0-9]*$/.test(s));
  if (bad.length) throw new Error(`--scale-numbers takes positive integers, comma-separated; got ${bad.join(", ")}`);
  return sizes.map(Number);
}

const program = new Command()
  .name("npm run bench --")
  .description(
    "Provisioning, idle cost, scale and reaction of bird-operator against a real kube-apiserver " +
      "and the Bird simulator (rate limits on, 50 +/- 20 ms latency)",
  )
  .option("--quick", "small sizes (about two minutes)")
  .option("--only <scenarios>", `comma-separated subset of ${SCENARIOS.join(", ")}`)
  .option("--kubeconfig <file>", "use this cluster (with the CRDs installed) instead of starting etcd + kube-apiserver")
  .option("--out <dir>", "where the JSON results go", RESULTS)
  .option("--workers <n>", "the operator's --workers", "32")
  .option(
    "--runtime <runtime>",
    "compiled: tsc output with the Deployment's NODE_OPTIONS, as deployed; tsx: node --import tsx src/cli/main.ts",
    "compiled",
  )
  .option(
    "--scale-numbers <n[,n...]>",
    "run the scale scenario once per size, each on a fresh control plane (results: <date>-scale-<n/1000>k.json)",
  )
  .option(
    "--scale-setup <setup>",
    "how the scale set-up provisions: adopt (an operator adopts all), clone (it adopts a sample, the bench " +
      "clones the rest), auto (adopt up to 10,000, clone above)",
    "auto",
  )
  .option("--heap-snapshot", "a V8 heap snapshot of the restarted scale operator once quiet (summarized at the end)")
  .option("--cpu-prof", "run the operator with node --cpu-prof (profiles next to the operator logs)")
  .action(async (flags: Flags) => {
    const scenarios = flags.only?.split(",").map((s) => s.trim()) as ScenarioName[] | undefined;
    const unknown = scenarios?.filter((s) => !SCENARIOS.includes(s));
    if (unknown?.length) throw new Error(`unknown scenario(s): ${unknown.join(", ")}`);
    if (flags.runtime !== "tsx" && flags.runtime !== "compiled")
      throw new Error(`--runtime must be tsx or compiled, got ${flags.runtime}`);
    if (!SCALE_SETUPS.includes(flags.scaleSetup as ScaleSetup))
      throw new Error(`--scale-setup must be one of ${SCALE_SETUPS.join(", ")}, got ${flags.scaleSetup}`);
    const run = await runBench({
      mode: flags.quick ? "quick" : "full",
      sizes: flags.quick ? QUICK : FULL,
      suffix: `${flags.quick ? "-quick" : ""}${flags.runtime === "tsx" ? "-tsx" : ""}`,
      outDir: flags.out,
      kubeconfigPath: flags.kubeconfig,
      scenarios,
      scaleNumbers: flags.scaleNumbers === undefined ? undefined : parseSizes(flags.scaleNumbers),
      scaleSetup: flags.scaleSetup as ScaleSetup,
      workers: Number(flags.workers),
      cpuProf: flags.cpuProf,
      heapSnapshot: flags.heapSnapshot,
      runtime: flags.runtime,
    });
    console.log(`\n${run.table}\n`);
    const notes = boundNotes(run.results);
    if (notes) console.log(`${notes}\n`);
    for (const file of run.files) console.log(`wrote ${file}`);
    console.log(`operator logs${flags.cpuProf ? " and CPU profiles" : ""}: ${run.workDir}`);
    for (const dir of flags.cpuProf ? ["profiles-provisioning", "profiles-scale"] : []) {
      const path = join(run.workDir, dir);
      const profile = existsSync(path) ? readdirSync(path).find((f) => f.endsWith(".cpuprofile")) : undefined;
      if (!profile) continue;
      const summary = summarizeProfile(join(path, profile), 15);
      console.log(
        `\n${dir}: main thread busy ${Math.round(summary.busyShare * 100)}% of ` +
          `${Math.round(summary.wallSeconds)} s; self time by area (s):`,
      );
      for (const [where, secs] of summary.byArea) console.log(`  ${secs.toFixed(2).padStart(8)}  ${where}`);
      console.log("hottest functions (s):");
      for (const [fn, secs] of summary.topFunctions) console.log(`  ${secs.toFixed(2).padStart(8)}  ${fn}`);
    }
    for (const file of flags.heapSnapshot ? findSnapshots(run.workDir) : []) {
      console.log(`\n${file}: retained by kind of object (MB, self size):`);
      for (const [what, mb, count] of summarizeHeap(file, 25))
        console.log(`  ${mb.toFixed(1).padStart(8)}  ${String(count).padStart(9)}  ${what}`);
    }
    process.exitCode = run.results.some((r) => r.status === "failed") ? 1 : 0;
  });

await program.parseAsync(process.argv);
