import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** The parts of a V8 .cpuprofile this summary reads. */
interface CpuProfile {
  nodes: { id: number; hitCount?: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface ProfileSummary {
  file: string;
  wallSeconds: number;
  /** Share of samples not idle: how busy the operator's main thread was. */
  busyShare: number;
  /** Self time by area (src/<dir>, node_modules/<package>, node internals, GC, idle), in seconds. */
  byArea: [string, number][];
  /** Self time of the hottest functions, in seconds. */
  topFunctions: [string, number][];
}

/** Where a frame's code lives, coarsely: enough to tell JSON parsing from TLS from our own reconcile code. */
function area(url: string, functionName: string): string {
  if (
    functionName === "(idle)" ||
    functionName === "(garbage collector)" ||
    functionName === "(program)" ||
    functionName === "(root)"
  )
    return functionName;
  if (!url) return `(native) ${functionName || "anonymous"}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `node_modules/${pkg[1]}`;
  const own = /\/(src|bench|dist)\/([^/]+)/.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  if (url.startsWith("node:")) return url.split("/").slice(0, 2).join("/");
  return url;
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const totalHits = profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0) || 1;
  const wallSeconds = (profile.endTime - profile.startTime) / 1e6;
  const perHit = wallSeconds / totalHits;
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let idle = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (!hits) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = area(url, functionName);
    if (where === "(idle)") idle += hits;
    areas.set(where, (areas.get(where) ?? 0) + hits * perHit);
    const name =
      `${functionName || "(anonymous)"} ` +
      `${url.replace(/^file:\/\/.*?\/(src|bench|node_modules|dist)\//, "$1/")}:${lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + hits * perHit);
  }
  const sorted = (m: Map<string, number>): [string, number][] =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round(v * 1000) / 1000]);
  return {
    file,
    wallSeconds,
    busyShare: 1 - idle / totalHits,
    byArea: sorted(areas).slice(0, top),
    topFunctions: sorted(functions)
      .filter(([k]) => !k.startsWith("(idle)"))
      .slice(0, top),
  };
}

function print(summary: ProfileSummary): void {
  console.log(
    `${summary.file}: ${summary.wallSeconds.toFixed(1)} s wall, ` +
      `main thread busy ${(summary.busyShare * 100).toFixed(0)}%`,
  );
  console.log("\nself time by area (s)");
  for (const [k, v] of summary.byArea) console.log(`  ${v.toFixed(2).padStart(8)}  ${k}`);
  console.log("\nhottest functions, self time (s)");
  for (const [k, v] of summary.topFunctions) console.log(`  ${v.toFixed(2).padStart(8)}  ${k}`);
}

// `npx tsx bench/profile-summary.ts <file.cpuprofile | directory>`: a directory means its newest profile.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop() ?? "")) {
  const target = process.argv[2];
  if (!target) throw new Error("usage: npx tsx bench/profile-summary.ts <file.cpuprofile | directory>");
  const file = statSync(target).isDirectory()
    ? readdirSync(target)
        .filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => join(target, f))
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]
    : target;
  if (!file) throw new Error(`no .cpuprofile in ${target}`);
  print(summarizeProfile(file));
}
