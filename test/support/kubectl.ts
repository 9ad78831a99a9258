import { spawn } from "node:child_process";

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  input?: string;
  /** Resolve with the result instead of throwing when kubectl exits non-zero. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

/** Runs the machine's kubectl against a kubeconfig, exactly as a user would. */
export async function kubectl(
  kubeconfigPath: string,
  args: string[],
  options: KubectlOptions = {},
): Promise<KubectlResult> {
  const child = spawn("kubectl", [`--kubeconfig=${kubeconfigPath}`, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.input ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const code = await new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (exitCode) => resolve(exitCode ?? 1));
  });
  clearTimeout(timer);
  const result = { code, stdout, stderr };
  if (code !== 0 && !options.allowFailure) {
    throw new Error(`kubectl ${args.join(" ")} exited ${code}: ${stderr.trim()}`);
  }
  return result;
}
