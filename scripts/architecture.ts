/**
 * The module picture in docs/architecture.md, drawn from the code: which area of src/ imports which. An area is a
 * folder of src/ (a controller's folder counts on its own), or a file at the top of src/. `--write` updates the
 * picture between the markers; without it, prints the edges. test/unit/architecture.test.ts checks that the picture
 * is current and that the layering rules below hold.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");
export const DOC = join(ROOT, "docs", "architecture.md");
const BEGIN = "<!-- modules:begin (npm run generate:architecture) -->";
const END = "<!-- modules:end -->";
/** Areas every other area may use without it being worth an arrow: types, logging, version. */
const QUIET = new Set(["api", "log", "version"]);

export interface Edge {
  from: string;
  to: string;
  imports: number;
}

function areaOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  if (parts[0] === "controllers" && parts.length > 2) return `controllers/${parts[1]}`;
  return parts.length === 1 ? (parts[0] ?? "").replace(/\.ts$/, "") : (parts[0] ?? "");
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every import between two different areas of src/, counted. */
export function moduleEdges(): Edge[] {
  const counts = new Map<string, number>();
  for (const file of sourceFiles(SRC)) {
    const from = areaOf(file);
    for (const match of readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)) {
      const target = normalize(join(dirname(file), (match[1] ?? "").replace(/\.js$/, ".ts")));
      if (!target.startsWith(SRC)) continue;
      const to = areaOf(target);
      if (to !== from) counts.set(`${from} ${to}`, (counts.get(`${from} ${to}`) ?? 0) + 1);
    }
  }
  return [...counts.entries()]
    .map(([key, imports]) => {
      const [from = "", to = ""] = key.split(" ");
      return { from, to, imports };
    })
    .sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to));
}

/** The Mermaid flowchart of the edges, without the quiet areas. */
export function mermaid(edges: Edge[]): string {
  const id = (area: string): string => area.replace(/[^a-z0-9]/gi, "_");
  const lines = edges
    .filter((e) => !QUIET.has(e.to) && !QUIET.has(e.from))
    .map((e) => `  ${id(e.from)}["${e.from}"] --> ${id(e.to)}["${e.to}"]`);
  return ["```mermaid", "flowchart LR", ...lines, "```"].join("\n");
}

/** The document with its picture replaced by the current one. */
export function withPicture(doc: string, picture: string): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${DOC} has no ${BEGIN} ... ${END} markers`);
  return `${doc.slice(0, start + BEGIN.length)}\n${picture}\n${doc.slice(end)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const edges = moduleEdges();
  if (process.argv.includes("--write")) {
    writeFileSync(DOC, withPicture(readFileSync(DOC, "utf8"), mermaid(edges)));
    console.log(`wrote the module picture (${edges.length} edges) to ${relative(ROOT, DOC)}`);
  } else {
    for (const e of edges) console.log(`${e.from} -> ${e.to} (${e.imports})`);
  }
}
