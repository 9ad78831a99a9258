import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, openSync, readFileSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { freePort } from "../../src/control-plane/processes.js";
import { parseMetrics, type Sample } from "./prom.js";
import { pollUntil } from "./util.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
/**
 * Outside the repository (its lint and type check would pick the output up), laid out like the image: package.json
 * (read by the CLI for its version) and node_modules (a link) next to dist/. One per checkout: worktrees of one machine
 * differ in sources and dependencies, and must not run each other's build.
 */
const COMPILED_ROOT = join(tmpdir(), `bird-operator-bench-compiled-${createHash("sha256").update(REPO).digest("hex").slice(0, 12)}`);
const COMPILED_DIR = join(COMPILED_ROOT, "dist");

/** `tsx`: `node --import tsx src/cli/main.ts` (a checkout); `compiled`: `node <tsc output>/cli/main.js`, as the image runs dist/. */
export type OperatorRuntime = "tsx" | "compiled";

/** Compiles src/ as `npm run build` does, into .cache/bench-dist, so the compiled runtime runs the current source. */
export async function buildCompiledOperator(): Promise<void> {
  const tsc = fileURLToPath(new URL("../../node_modules/typescript/bin/tsc", import.meta.url));
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", COMPILED_DIR, "--sourceMap", "false"], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`compiling the operator failed:\n${output.slice(-3000)}`))));
  });
  copyFileSync(join(REPO, "package.json"), join(COMPILED_ROOT, "package.json"));
  const link = join(COMPILED_ROOT, "node_modules");
  const target = join(REPO, "node_modules");
  if (linkTarget(link) !== target) {
    rmSync(link, { force: true });
    symlinkSync(target, link, "dir");
  }
}

function linkTarget(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

export interface OperatorProcessOptions {
  kubeconfigPath: string;
  namespace: string;
  workspaceSelector: string;
  /** `--resync`, e.g. `10m` (the default) or `5s` for the idle-cost scenario. */
  resync: string;
  workers: number;
  logFile: string;
  /** Directory for a V8 CPU profile written when the process exits. */
  cpuProfDir?: string;
  logLevel?: string;
  runtime?: OperatorRuntime;
}

export interface Memory {
  /** VmRSS: resident now. */
  rssBytes: number;
  /** VmHWM: the peak resident set since the process started (the kernel's own high-water mark). */
  peakBytes: number;
}

/**
 * `bird-operator run` as its own process, from source through tsx, exactly as a user runs it in a checkout: its
 * CPU and memory are its own, /metrics is scraped over HTTP and /proc gives its resident set.
 */
export class OperatorProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly startedAt: number,
    readonly metricsUrl: string,
    readonly readyUrl: string,
    readonly logFile: string,
  ) {}

  static async start(options: OperatorProcessOptions): Promise<OperatorProcess> {
    const [metricsPort, healthPort] = [await freePort(), await freePort()];
    const args = [
      ...(options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`] : []),
      ...(options.runtime === "compiled" ? [`${COMPILED_DIR}/cli/main.js`] : ["--import", "tsx", CLI]),
      "run",
      `--kubeconfig=${options.kubeconfigPath}`,
      "--no-leader-elect",
      `--metrics-address=127.0.0.1:${metricsPort}`,
      `--health-address=127.0.0.1:${healthPort}`,
      `--namespaces=${options.namespace}`,
      `--operator-namespace=${options.namespace}`,
      `--workspace-selector=${options.workspaceSelector}`,
      `--workers=${options.workers}`,
      `--resync=${options.resync}`,
      `--log-level=${options.logLevel ?? "info"}`,
    ];
    const out = openSync(options.logFile, "a");
    const startedAt = Date.now();
    // The compiled runtime stands for the deployed operator: the same V8 settings as deploy/deployment.yaml.
    const nodeOptions = options.runtime === "compiled" ? deployedNodeOptions() : process.env.NODE_OPTIONS;
    const child = spawn(process.execPath, args, { cwd: REPO, stdio: ["ignore", out, out], env: { ...process.env, LOG_FORMAT: "json", NODE_OPTIONS: nodeOptions ?? "" } });
    closeSync(out);
    const killOnExit = (): void => void child.kill("SIGKILL");
    process.once("exit", killOnExit);
    child.once("exit", () => process.off("exit", killOnExit));
    return new OperatorProcess(child, startedAt, `http://127.0.0.1:${metricsPort}/metrics`, `http://127.0.0.1:${healthPort}/readyz`, options.logFile);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Resolves once /readyz answers 200 (informer caches synced, controllers started). */
  async waitReady(timeoutMs = 120_000): Promise<number> {
    const ready = await pollUntil(
      async () => {
        if (this.child.exitCode !== null) throw new Error(`the operator exited with ${this.child.exitCode}:\n${this.logTail()}`);
        try {
          return (await fetch(this.readyUrl)).status === 200 ? Date.now() : undefined;
        } catch {
          return undefined;
        }
      },
      timeoutMs,
      50,
    );
    if (ready === undefined) throw new Error(`the operator was not ready within ${timeoutMs} ms:\n${this.logTail()}`);
    return ready;
  }

  async metrics(): Promise<Sample[]> {
    const res = await fetch(this.metricsUrl);
    if (!res.ok) throw new Error(`${this.metricsUrl} answered ${res.status}`);
    return parseMetrics(await res.text());
  }

  memory(): Memory | undefined {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
      const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
      return { rssBytes: kib("VmRSS"), peakBytes: kib("VmHWM") };
    } catch {
      return undefined;
    }
  }

  /**
   * SIGSTOP: the process keeps its sockets and state but uses no CPU and sends nothing, so a measurement taken
   * meanwhile has the machine to itself. `resume()` (SIGCONT) lets it go on where it was.
   */
  pause(): void {
    this.child.kill("SIGSTOP");
  }

  resume(): void {
    this.child.kill("SIGCONT");
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  /** SIGTERM (graceful: in-flight reconciles finish, a CPU profile is written), SIGKILL after the deadline. */
  async stop(deadlineMs = 30_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.child.once("exit", (code) => resolve(code)));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), deadlineMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}

/** NODE_OPTIONS of the operator container in deploy/deployment.yaml. */
export function deployedNodeOptions(): string | undefined {
  const manifest = parse(readFileSync(join(REPO, "deploy", "deployment.yaml"), "utf8")) as {
    spec?: { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } };
  };
  return manifest.spec?.template?.spec?.containers?.[0]?.env?.find((e) => e.name === "NODE_OPTIONS")?.value;
}
