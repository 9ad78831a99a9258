import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Heap snapshots the bench asked for under `workDir` (heap-scale/). */
export function findSnapshots(workDir: string): string[] {
  const dir = join(workDir, "heap-scale");
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".heapsnapshot"))
        .map((f) => join(dir, f))
    : [];
}

/**
 * Self size of the snapshot's nodes grouped by type and constructor name (strings by type only), biggest first:
 * [what, MB, count]. Self sizes, not retained sizes: enough to see which kinds of object the memory is made of.
 */
export function summarizeHeap(file: string, top: number): [string, number, number][] {
  const heap = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
  const groups = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + (typeAt ?? 0)] ?? 0] ?? "?";
    const name = heap.strings[heap.nodes[i + (nameAt ?? 1)] ?? 0] ?? "?";
    const key = type === "object" || type === "closure" ? `${type} ${name}` : type;
    const group = groups.get(key) ?? { bytes: 0, count: 0 };
    group.bytes += heap.nodes[i + (sizeAt ?? 3)] ?? 0;
    group.count++;
    groups.set(key, group);
  }
  return [...groups]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, top)
    .map(([key, g]) => [key, g.bytes / 1048576, g.count]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [what, mb, count] of summarizeHeap(process.argv[2] ?? "", Number(process.argv[3] ?? 30)))
    console.log(`${mb.toFixed(1).padStart(8)}  ${String(count).padStart(9)}  ${what}`);
}
