import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * `bird-operator run` as a real process, as the Deployment runs it. Everything it prints is kept for the secret
 * scan; an exit the campaign did not cause is a crash.
 */
export class OperatorProcess {
  readonly child: ChildProcess;
  readonly spawnedAt = Date.now();
  readonly exited: Promise<Exit>;
  /** Resolves with the time the process started its controllers (it leads), never rejects. */
  readonly leading: Promise<number | undefined>;
  private text = "";
  private signalled = false;
  private resolveLeading: (at: number | undefined) => void = () => undefined;
  exit: Exit | undefined;

  constructor(
    readonly name: string,
    args: string[],
    env: Record<string, string> = {},
  ) {
    this.child = spawn(process.execPath, ["--import", "tsx", CLI, "run", "--metrics-address=127.0.0.1:0", "--health-address=127.0.0.1:0", ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LOG_LEVEL: "info", LOG_FORMAT: "json", ...env },
    });
    this.leading = new Promise((resolve) => (this.resolveLeading = resolve));
    const onData = (chunk: Buffer): void => {
      const before = this.text.length;
      this.text += chunk.toString();
      if (this.text.indexOf("Starting controllers", Math.max(0, before - 40)) >= 0) this.resolveLeading(Date.now());
    };
    this.child.stdout?.on("data", onData);
    this.child.stderr?.on("data", onData);
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => {
        this.exit = { code, signal };
        this.resolveLeading(undefined);
        resolve(this.exit);
      }),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  output(): string {
    return this.text;
  }

  /** Exited without the campaign asking it to: a crash (or, with leader election, a lost lease). */
  get crashed(): boolean {
    return this.exit !== undefined && !this.signalled;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<Exit> {
    if (this.running) {
      this.signalled = true;
      this.child.kill(signal);
    }
    return this.exited;
  }

  /** SIGSTOP/SIGCONT: freezes the process without it noticing (its connections die meanwhile). */
  pause(): void {
    if (this.running) this.child.kill("SIGSTOP");
  }

  resume(): void {
    if (this.running) this.child.kill("SIGCONT");
  }

  /** The campaign causes the exit that comes (a lease lost on purpose): not a crash, for every scenario's report. */
  expectExit(): void {
    this.signalled = true;
  }

  /** Addresses it logged, e.g. `{metrics: "127.0.0.1:41234"}`. */
  addresses(): { metrics?: string; health?: string } {
    const line = this.text.split("\n").find((l) => l.includes("Serving metrics and health probes"));
    if (!line) return {};
    try {
      return JSON.parse(line) as { metrics?: string; health?: string };
    } catch {
      return {};
    }
  }

  tail(lines = 30): string {
    return this.text.split("\n").slice(-lines).join("\n");
  }

  /** Parsed JSON log lines (pino), skipping anything else. */
  logLines(): Record<string, unknown>[] {
    return this.text
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
}

/** Waits until the process printed `text` (or exited, or the time is up). */
export async function waitForOutput(process: OperatorProcess, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!process.output().includes(text) && process.running && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}
