import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, openSync, readFileSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "src/cli/main.ts");
/**
 * Outside the repository (its lint and type check would pick the output up), laid out like the image: package.json
 * (read by the CLI for its version) and node_modules (a link) next to dist/. One per checkout: worktrees of one machine
 * differ in sources and dependencies, and must not run each other's build.
 */
const COMPILED_ROOT = join(
  tmpdir(),
  `bird-operator-bench-compiled-${createHash("sha256").update(ROOT).digest("hex").slice(0, 12)}`,
);
const COMPILED_DIR = join(COMPILED_ROOT, "dist");
const STARTED = "Starting controllers";

/**
 * `tsx`: `node --import tsx src/cli/main.ts` (a checkout); `compiled`:
 * `node <tsc output>/cli/main.js`, as the image runs dist/.
 */
export type OperatorRuntime = "tsx" | "compiled";

export interface OperatorProcessOptions {
  /** Arguments of `bird-operator run`. Metrics and health listen on free loopback ports unless they say otherwise. */
  args: string[];
  env?: Record<string, string>;
  /** How reports name it. */
  name?: string;
  runtime?: OperatorRuntime;
  /** Node.js flags before the script, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** Its output goes straight to this file (appended) instead of through this process: for long, loud runs. */
  logFile?: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * `bird-operator run` as a real process, as the Deployment runs it: for the tests, the chaos campaign and the
 * benchmark. It keeps everything the process prints (for secret scans and failure messages); an exit nobody asked
 * for is a crash.
 */
export class OperatorProcess {
  readonly child: ChildProcess;
  readonly name: string;
  readonly spawnedAt = Date.now();
  readonly exited: Promise<Exit>;
  /** Resolves with the time the process started its controllers (it leads), or undefined if it exited first. */
  readonly leading: Promise<number | undefined>;
  /** Resolves once the process started its controllers; rejects, with its output, if it exited first. */
  readonly started: Promise<void>;
  exit: Exit | undefined;
  private text = "";
  private signalled = false;
  private readonly logFile: string | undefined;

  constructor(options: OperatorProcessOptions) {
    this.name = options.name ?? "operator";
    this.logFile = options.logFile;
    this.child = spawnOperator(options);
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => resolve((this.exit = { code, signal }))),
    );
    this.leading = this.watchForStart();
    this.started = this.leading.then((at) => {
      if (at === undefined)
        throw new Error(
          `operator exited with ${this.exit?.code ?? this.exit?.signal} ` +
            `before starting:\n${this.output().slice(-3000)}`,
        );
    });
    this.started.catch(() => undefined);
    const killOnExit = (): void => void this.child.kill("SIGKILL");
    process.once("exit", killOnExit);
    void this.exited.then(() => process.off("exit", killOnExit));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Exited without anyone asking it to: a crash (or, with leader election, a lost lease). */
  get crashed(): boolean {
    return this.exit !== undefined && !this.signalled;
  }

  /** The exit that comes was caused on purpose (a lease lost on purpose): not a crash. */
  expectExit(): void {
    this.signalled = true;
  }

  output(): string {
    if (!this.logFile) return this.text;
    try {
      return readFileSync(this.logFile, "utf8");
    } catch {
      return "";
    }
  }

  tail(lines = 30): string {
    return this.output().trimEnd().split("\n").slice(-lines).join("\n");
  }

  /** Parsed JSON log lines (pino, LOG_FORMAT=json), skipping anything else. */
  logLines(): Record<string, unknown>[] {
    return this.output()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  }

  /** Addresses it logged, e.g. `{metrics: "127.0.0.1:41234"}` (JSON logs only). */
  addresses(): { metrics?: string; health?: string } {
    return this.logLines().find((l) => l.msg === "Serving metrics and health probes") ?? {};
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<Exit> {
    if (this.running) {
      this.signalled = true;
      this.child.kill(signal);
    }
    return this.exited;
  }

  /** SIGTERM (graceful: in-flight reconciles finish, a CPU profile is written), SIGKILL after the deadline. */
  async stop(deadlineMs = 30_000): Promise<Exit> {
    const timer = setTimeout(() => void this.kill("SIGKILL"), deadlineMs);
    const exit = await this.kill("SIGTERM");
    clearTimeout(timer);
    return exit;
  }

  /**
   * SIGSTOP: the process keeps its sockets and state but uses no CPU and sends nothing (its connections may die
   * meanwhile). `resume()` (SIGCONT) lets it go on where it was.
   */
  pause(): void {
    if (this.running) this.child.kill("SIGSTOP");
  }

  resume(): void {
    if (this.running) this.child.kill("SIGCONT");
  }

  /** VmRSS (resident now) and VmHWM (the peak since it started, the kernel's own high-water mark), from /proc. */
  memory(): { rssBytes: number; peakBytes: number } | undefined {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
      const kib = (field: string): number =>
        Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
      return { rssBytes: kib("VmRSS"), peakBytes: kib("VmHWM") };
    } catch {
      return undefined;
    }
  }

  private watchForStart(): Promise<number | undefined> {
    return new Promise((resolve) => {
      void this.exited.then(() => resolve(undefined));
      if (this.logFile) {
        const timer = setInterval(() => this.output().includes(STARTED) && resolve(Date.now()), 100);
        void this.exited.then(() => clearInterval(timer));
        return;
      }
      const onData = (chunk: Buffer): void => {
        const before = this.text.length;
        this.text += chunk.toString();
        if (this.text.indexOf(STARTED, Math.max(0, before - STARTED.length)) >= 0) resolve(Date.now());
      };
      this.child.stdout?.on("data", onData);
      this.child.stderr?.on("data", onData);
    });
  }
}

function spawnOperator(options: OperatorProcessOptions): ChildProcess {
  const given = (flag: string): boolean => options.args.some((a) => a.startsWith(`${flag}=`));
  const addresses = ["--metrics-address", "--health-address"]
    .filter((flag) => !given(flag))
    .map((flag) => `${flag}=127.0.0.1:0`);
  const script = options.runtime === "compiled" ? [join(COMPILED_DIR, "cli/main.js")] : ["--import", "tsx", CLI];
  const out = options.logFile ? openSync(options.logFile, "a") : "pipe";
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), ...script, "run", ...addresses, ...options.args],
    {
      cwd: ROOT,
      stdio: ["ignore", out, out],
      env: { ...process.env, LOG_LEVEL: "info", ...options.env },
    },
  );
  if (typeof out === "number") closeSync(out);
  return child;
}

/** Waits until the process printed `text` (or exited, or the time is up). */
export async function waitForOutput(operator: OperatorProcess, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!operator.output().includes(text) && operator.running && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Compiles src/ as `npm run build` does, outside the checkout, so the compiled runtime runs the current source. */
export async function buildCompiledOperator(): Promise<void> {
  const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [tsc, "-p", "tsconfig.build.json", "--outDir", COMPILED_DIR, "--sourceMap", "false"],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`compiling the operator failed:\n${output.slice(-3000)}`)),
    );
  });
  copyFileSync(join(ROOT, "package.json"), join(COMPILED_ROOT, "package.json"));
  const link = join(COMPILED_ROOT, "node_modules");
  const target = join(ROOT, "node_modules");
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
