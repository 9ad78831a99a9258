import { fileURLToPath } from "node:url";
import { ControlPlane } from "../src/control-plane/control-plane.js";
import { ChaosEnv } from "./lib/env.js";
import { ScenarioReport, type ScenarioResult } from "./lib/report.js";
import { seededRandom, type Random } from "./lib/specs.js";
import { apiServerRestart } from "./scenarios/apiserver-restart.js";
import { badInput } from "./scenarios/bad-input.js";
import { birdFaults } from "./scenarios/bird-faults.js";
import { killStorm } from "./scenarios/kill-storm.js";
import { leaderFailover } from "./scenarios/leader-failover.js";
import { massDeletion } from "./scenarios/mass-deletion.js";
import { secrets } from "./scenarios/secrets.js";
import { staleLeader } from "./scenarios/stale-leader.js";

export type ScenarioFn = (env: ChaosEnv, report: ScenarioReport, random: Random) => Promise<void>;

/** The scenarios of issue #9 (and the stale leader of issue #21), in the order they are reported. */
export const SCENARIOS: Record<string, ScenarioFn> = {
  "kill-storm": killStorm,
  "bird-faults": birdFaults,
  "apiserver-restart": apiServerRestart,
  "leader-failover": leaderFailover,
  "stale-leader": staleLeader,
  "mass-deletion": massDeletion,
  "bad-input": badInput,
  secrets,
};

/**
 * When scenarios run side by side: restarting the API server would disturb the others, so it runs first, alone. The
 * stale leader's timing (a freeze past a 4 s lease, a takeover, a thaw) is the point of it, and on a loaded machine
 * it and the others' leases disturb each other, so it runs alone after them; the secret scan covers the output of
 * every operator process of the campaign, so it runs last, alone.
 */
const ALONE_FIRST = ["apiserver-restart"];
const ALONE_LAST = ["stale-leader", "secrets"];

export interface CampaignOptions {
  short: boolean;
  /** Run only these scenarios (names of SCENARIOS). */
  only?: string[];
  /** Run the scenarios that may share the control plane at the same time (default: in the short run). */
  parallel?: boolean;
  seed?: number;
  log?: (line: string) => void;
}

export interface CampaignResult {
  seed: number;
  short: boolean;
  scenarios: ScenarioResult[];
  violations: string[];
  durationMs: number;
}

/**
 * Runs the campaign against a control plane of its own (one scenario restarts the API server) and in-process
 * simulators, one per scenario. A scenario that throws is a violation, never a crash of the campaign.
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const seed = options.seed ?? randomSeed();
  const started = Date.now();
  const names = options.only?.length ? options.only : Object.keys(SCENARIOS);
  const unknown = names.filter((n) => !(n in SCENARIOS));
  if (unknown.length)
    throw new Error(`unknown scenario(s) ${unknown.join(", ")}; known: ${Object.keys(SCENARIOS).join(", ")}`);
  log(`chaos campaign (${options.short ? "short" : "full"}), seed ${seed}: ${names.join(", ")}`);
  const plane = await ControlPlane.start({ crdDir: fileURLToPath(new URL("../crds", import.meta.url)) });
  const env = new ChaosEnv(plane, options.short, log);
  const run = async (name: string, index: number, prefix: string): Promise<ScenarioResult> => {
    const scenarioLog = (line: string): void => log(`${prefix}${line}`);
    const report = new ScenarioReport(name, scenarioLog);
    scenarioLog(`== ${name}`);
    try {
      await (SCENARIOS[name] as ScenarioFn)(env, report, seededRandom(seed + index));
    } catch (error) {
      report.violation(`scenario failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    const result = report.result();
    scenarioLog(formatResult(result));
    return result;
  };
  const results = new Map<string, ScenarioResult>();
  try {
    if (options.parallel ?? options.short) {
      const shared = names.filter((n) => !ALONE_FIRST.includes(n) && !ALONE_LAST.includes(n));
      for (const name of names.filter((n) => ALONE_FIRST.includes(n)))
        results.set(name, await run(name, names.indexOf(name), ""));
      for (const result of await Promise.all(shared.map((name) => run(name, names.indexOf(name), `[${name}] `))))
        results.set(result.name, result);
      for (const name of names.filter((n) => ALONE_LAST.includes(n)))
        results.set(name, await run(name, names.indexOf(name), ""));
    } else {
      for (const name of names) results.set(name, await run(name, names.indexOf(name), ""));
    }
  } finally {
    await env.close();
    await plane.stop();
  }
  const ordered = names.flatMap((name) => results.get(name) ?? []);
  const violations = ordered.flatMap((r) => r.violations.map((v) => `${r.name}: ${v}`));
  return { seed, short: options.short, scenarios: ordered, violations, durationMs: Date.now() - started };
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

/** The command that runs the same campaign again: same seed, same length, same scenarios. */
export function replayCommand(seed: number, short: boolean, only?: string[]): string {
  return `npm run chaos -- --seed=${seed}${short ? " --short" : ""}${only?.length ? ` --only=${only.join(",")}` : ""}`;
}

export function formatResult(result: ScenarioResult): string {
  const figures = Object.entries(result.figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return (
    `  ${result.violations.length ? "FAIL" : "ok"} ${result.name} in ${(result.durationMs / 1000).toFixed(1)} s: ` +
    `${figures} violations=${result.violations.length}`
  );
}
