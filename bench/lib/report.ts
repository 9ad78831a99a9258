import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MachineInfo } from "./util.js";

/**
 * One reported figure. `goal` is the target; `ratio` = value / goal (or achieved / bound), so <= 1 meets it
 * (<= 1.2 for the provisioning ratio, whose goal is itself a ratio).
 */
export interface Figure {
  name: string;
  value: number | undefined;
  unit: string;
  goal?: number;
  ratio?: number;
  met?: boolean;
  note?: string;
}

export type ScenarioStatus = "ok" | "missed" | "blocked" | "failed";

export interface ScenarioResult {
  scenario: string;
  /** Which run of the scenario, when it runs more than once (`100k` for the scale scenario at 100,000 numbers). */
  variant?: string;
  status: ScenarioStatus;
  /** Why the scenario is blocked or failed. */
  reason?: string;
  startedAt: string;
  durationSeconds: number;
  figures: Figure[];
  details: Record<string, unknown>;
}

export interface RunInfo {
  mode: string;
  machine: MachineInfo;
  source?: { commit: string; srcDirty: boolean };
  settings: Record<string, unknown>;
}

/** A figure with a goal to stay under (`value <= goal`). */
export function underGoal(name: string, value: number | undefined, unit: string, goal: number, note?: string): Figure {
  const ratio = value === undefined ? undefined : goal === 0 ? (value === 0 ? 0 : Infinity) : value / goal;
  return { name, value, unit, goal, ratio, met: value !== undefined && value <= goal, note };
}

export function info(name: string, value: number | undefined, unit: string, note?: string): Figure {
  return { name, value, unit, note };
}

export function statusOf(figures: readonly Figure[]): ScenarioStatus {
  return figures.every((f) => f.met !== false) ? "ok" : "missed";
}

/**
 * `<outDir>/<date>-<scenario>[-<variant>].json`; quick runs add `-quick` so they never overwrite a full run of the
 * same day.
 */
export function writeResult(outDir: string, run: RunInfo, result: ScenarioResult, suffix = ""): string {
  mkdirSync(outDir, { recursive: true });
  const date = result.startedAt.slice(0, 10);
  const file = join(outDir, `${date}-${scenarioLabel(result)}${suffix}.json`);
  const record = { ...result, mode: run.mode, machine: run.machine, source: run.source, settings: run.settings };
  writeFileSync(file, `${JSON.stringify(record, replacer, 2)}\n`);
  return file;
}

/** `scale`, or `scale-100k` for one of several runs of it. */
export function scenarioLabel(result: Pick<ScenarioResult, "scenario" | "variant">): string {
  return result.variant ? `${result.scenario}-${result.variant}` : result.scenario;
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return value;
}

function format(value: number | undefined, unit = ""): string {
  if (value === undefined) return "-";
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const text =
    abs >= 100 || Number.isInteger(value) ? value.toFixed(0) : abs >= 10 ? value.toFixed(1) : value.toFixed(2);
  return unit ? `${text} ${unit}` : text;
}

/** The summary table: one row per figure, scenario first. */
export function summaryTable(results: readonly ScenarioResult[]): string {
  const rows: string[][] = [["scenario", "figure", "value", "goal", "ratio", "ok"]];
  for (const r of results) {
    const label = scenarioLabel(r);
    if (r.status === "blocked" || r.status === "failed")
      rows.push([label, `${r.status.toUpperCase()}: ${r.reason ?? ""}`.slice(0, 100), "", "", "", ""]);
    for (const f of r.figures) {
      rows.push([
        label,
        f.name,
        format(f.value, f.unit),
        f.goal === undefined ? "" : format(f.goal, f.unit),
        f.ratio === undefined ? "" : format(f.ratio),
        f.met === undefined ? "" : f.met ? "yes" : "NO",
      ]);
    }
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  const line = (r: string[]): string =>
    r.map((c, i) => (i >= 2 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join("  ");
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(rows[0] ?? []), rule, ...rows.slice(1).map(line)].join("\n");
}

/** The provisioning bound spelled out: which Bird calls count as strictly necessary, and why. */
export function boundNotes(results: readonly ScenarioResult[]): string {
  const provisioning = results.find((r) => r.scenario === "provisioning");
  const details = provisioning?.details as
    | {
        necessaryBirdCalls?: { what: string; method: string; count: number; how: string; neededFor: string }[];
        birdBound?: {
          forReady: { formula: string; seconds: number };
          withSubscriptionDates: { formula: string; seconds: number };
        };
        bareClient?: { writes: number; seconds: number; concurrency: number };
      }
    | undefined;
  if (!details?.necessaryBirdCalls || !details.birdBound || !details.bareClient) return "";
  const lines = ["Strictly necessary Bird calls for the provisioning scenario (how they were counted):"];
  for (const l of details.necessaryBirdCalls)
    lines.push(
      `  ${String(l.count).padStart(6)} ${l.method.padEnd(4)} ` +
        `${l.what}${l.neededFor === "status" ? " [status only, not needed for Ready]" : ""}: ${l.how}`,
    );
  lines.push(
    `  Bird bound (Ready):       ${details.birdBound.forReady.formula} = ` +
      `${details.birdBound.forReady.seconds.toFixed(2)} s`,
  );
  lines.push(
    `  Bird bound (with dates):  ${details.birdBound.withSubscriptionDates.formula} = ` +
      `${details.birdBound.withSubscriptionDates.seconds.toFixed(2)} s`,
  );
  lines.push(
    `  Kubernetes bound:         a bare client made the operator's ${details.bareClient.writes} writes in ` +
      `${details.bareClient.seconds.toFixed(2)} s (${details.bareClient.concurrency} in flight)`,
  );
  lines.push("  bound = max(Bird bound, Kubernetes bound); achieved / bound is in the table.");
  return lines.join("\n");
}
