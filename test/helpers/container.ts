import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = new URL("../..", import.meta.url).pathname;

/** The image scripts/build-image.sh wrote: an OCI layout and the tag it holds (package.json's version). */
export interface BuiltImage {
  layout: string;
  tag: string;
  digest: string;
}

export function builtImage(): BuiltImage {
  const dir = process.env.BIRD_OPERATOR_IMAGE_DIR ?? join(ROOT, ".cache", "image");
  const layout = join(dir, "oci");
  if (!existsSync(join(dir, "digest")))
    throw new Error(`no image in ${dir}: build it with \`bash scripts/build-image.sh\` (npm run test:image does)`);
  const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  return { layout, tag: version, digest: readFileSync(join(dir, "digest"), "utf8").trim() };
}

/** A blob of the layout, parsed. */
export function readBlob<T>(image: BuiltImage, digest: string): T {
  return JSON.parse(readFileSync(join(image.layout, "blobs", ...digest.split(":")), "utf8")) as T;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  config: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
  };
}

export function imageConfig(image: BuiltImage): ImageConfig {
  const manifest = readBlob<{ config: { digest: string } }>(image, image.digest);
  return readBlob<ImageConfig>(image, manifest.config.digest);
}

/**
 * What a container runtime needs:
 * an OCI runtime bundle unpacked from the image by umoci (root filesystem + config.json).
 */
export interface Bundle {
  dir: string;
  /** The image's entrypoint, to run it with other arguments. */
  entrypoint: string[];
  /** The runtime spec umoci derived from the image config; edited by the caller before `start`. */
  spec: RuntimeSpec;
  remove(): void;
}

export interface RuntimeSpec {
  process: {
    terminal?: boolean;
    user: { uid: number; gid: number };
    args: string[];
    env: string[];
    cwd: string;
    capabilities?: Record<string, string[]>;
    noNewPrivileges?: boolean;
  };
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: { destination: string; type: string; source: string; options?: string[] }[];
  linux: { namespaces: { type: string }[]; cgroupsPath?: string; resources?: Record<string, unknown> } & Record<
    string,
    unknown
  >;
}

export async function unpack(image: BuiltImage): Promise<Bundle> {
  const dir = mkdtempSync(join(tmpdir(), "bird-operator-bundle-"));
  const bundle = join(dir, "bundle");
  await run("umoci", ["unpack", "--image", `${image.layout}:${image.tag}`, bundle], { maxBuffer: 16 * 1024 * 1024 });
  return {
    dir: bundle,
    entrypoint: imageConfig(image).config.Entrypoint ?? [],
    spec: JSON.parse(readFileSync(join(bundle, "config.json"), "utf8")) as RuntimeSpec,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Container {
  id: string;
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** The container's init process as the host sees it. */
  pid(): Promise<number>;
  signal(signal: "TERM" | "KILL"): Promise<void>;
  /** Kills what is left and removes the runtime's state and cgroup. */
  destroy(): Promise<void>;
}

/**
 * Runs the bundle with Debian's runc, attached (the container's stdout and stderr are the child's). Debian's crun 1.8
 * refuses this machine kind's hybrid cgroup layout ("cgroups in hybrid mode not supported"); runc accepts it. The
 * cgroup path is relative, so the container's cgroups nest under this process's own, and runc removes them on exit.
 */
export function startContainer(bundle: Bundle, id: string): Container {
  const state = mkdtempSync(join(tmpdir(), "bird-operator-runc-"));
  const spec: RuntimeSpec = { ...bundle.spec, process: { ...bundle.spec.process, terminal: false } };
  spec.linux = { ...spec.linux, cgroupsPath: id };
  writeFileSync(join(bundle.dir, "config.json"), JSON.stringify(spec, null, 2));
  const runc = (args: string[]): Promise<{ stdout: string }> => run("runc", ["--root", state, ...args]);
  const child = spawn("runc", ["--root", state, "run", "--bundle", bundle.dir, id], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    id,
    child,
    output: () => output,
    exited,
    pid: async () => (JSON.parse((await runc(["state", id])).stdout) as { pid: number }).pid,
    signal: async (signal) => {
      await runc(["kill", id, signal]);
    },
    destroy: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        await runc(["kill", id, "KILL"]).catch(() => undefined);
        await exited;
      }
      await runc(["delete", "--force", id]).catch(() => undefined);
      rmSync(state, { recursive: true, force: true });
    },
  };
}

/** Runs a command of the image to completion, with a read-only root, as the image's user, without capabilities. */
export async function runOnce(
  bundle: Bundle,
  id: string,
  args: string[],
): Promise<{ code: number | null; output: string }> {
  const none = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
  const spec = {
    ...bundle.spec,
    root: { ...bundle.spec.root, readonly: true },
    process: { ...bundle.spec.process, args, capabilities: none },
  };
  const container = startContainer({ ...bundle, spec }, id);
  try {
    const code = await container.exited;
    return { code, output: container.output() };
  } finally {
    await container.destroy();
  }
}
