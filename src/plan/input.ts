import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

/** One object of the input, as written (kind, metadata, spec), and where it came from. */
export interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  source: string;
}

const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const MANIFEST_EXTENSIONS = /\.(ya?ml|json)$/;

/**
 * Reads every object of the given sources, as `kubectl apply -f` takes them: a file, a directory (its .yaml, .yml and
 * .json files, not recursive), a kustomization directory (rendered with `kubectl kustomize`), or `-` for stdin. `List`
 * objects are unpacked. Throws with the source named when a document does not parse.
 */
export function readManifests(
  sources: readonly string[],
  stdin: () => string = () => readFileSync(0, "utf8"),
): Manifest[] {
  return sources.flatMap((source) => {
    if (source === "-") return parseManifests(stdin(), "<stdin>");
    if (!existsSync(source)) throw new Error(`${source}: no such file or directory`);
    if (!statSync(source).isDirectory()) return parseManifests(readFileSync(source, "utf8"), source);
    if (KUSTOMIZATION_FILES.some((file) => existsSync(join(source, file))))
      return parseManifests(kustomize(source), `${source} (kustomize)`);
    return readdirSync(source)
      .filter((file) => MANIFEST_EXTENSIONS.test(file))
      .sort()
      .flatMap((file) => parseManifests(readFileSync(join(source, file), "utf8"), join(source, file)));
  });
}

export function parseManifests(text: string, source: string): Manifest[] {
  const objects: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`${source}: ${doc.errors[0]?.message ?? "not YAML"}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== "object" || Array.isArray(value)) throw new Error(`${source}: a document is not an object`);
    const object = value as Omit<Manifest, "source"> & { items?: unknown[] };
    if (object.kind?.endsWith("List") && Array.isArray(object.items)) {
      for (const item of object.items)
        if (item && typeof item === "object") objects.push({ ...(item as Omit<Manifest, "source">), source });
    } else {
      objects.push({ ...object, source });
    }
  }
  return objects;
}

function kustomize(dir: string): string {
  const result = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.error)
    throw new Error(`${dir} is a kustomization, which needs kubectl to render: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${result.stderr.trim()}`);
  return result.stdout;
}
