/** One sample of a Prometheus text exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the text format (comments skipped); enough for prom-client's and kube-apiserver's /metrics. */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? "").matchAll(LABEL))
      labels[label[1] ?? ""] = (label[2] ?? "").replace(/\\(.)/g, "$1");
    samples.push({ name: match[1] ?? "", labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of a metric's samples whose labels match every given value. */
export function sumOf(
  samples: readonly Sample[],
  name: string,
  match: Record<string, string | readonly string[]> = {},
): number {
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    const ok = Object.entries(match).every(([k, v]) =>
      typeof v === "string" ? s.labels[k] === v : v.includes(s.labels[k] ?? ""),
    );
    if (ok && Number.isFinite(s.value)) total += s.value;
  }
  return total;
}

/** Sums a metric grouped by the values of some labels, e.g. writes by `kind` and `verb`. */
export function groupBy(samples: readonly Sample[], name: string, keys: readonly string[]): Map<string, number> {
  const groups = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name || !Number.isFinite(s.value)) continue;
    const key = keys.map((k) => s.labels[k] ?? "").join(" ");
    groups.set(key, (groups.get(key) ?? 0) + s.value);
  }
  return groups;
}

/** b - a for each key (keys only in b count from 0); zero differences are dropped. */
export function diffGroups(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta !== 0) out[key] = delta;
  }
  return out;
}
