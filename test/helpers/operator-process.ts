import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface OperatorProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves once the process logged that its controllers run. */
  started: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `bird-operator run` as a real process (from source, through tsx), for tests that kill it. */
export function startOperatorProcess(args: string[], env: Record<string, string> = {}): OperatorProcess {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, "run", "--metrics-address=127.0.0.1:0", "--health-address=127.0.0.1:0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOG_LEVEL: "info", ...env },
  });
  let output = "";
  const started = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes("Starting controllers")) resolve();
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => reject(new Error(`operator exited with ${code} before starting:\n${output.slice(-3000)}`)));
  });
  started.catch(() => undefined);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => output,
    started,
    kill: async (signal = "SIGKILL") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
