import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
const BUILD_SCRIPT = new URL("../../scripts/build-helm.sh", import.meta.url).pathname;

/** helm from Go modules (scripts/build-helm.sh: cached after the first build, which takes minutes). */
export async function resolveHelm(): Promise<string> {
  const { stdout } = await run("bash", [BUILD_SCRIPT], { maxBuffer: 16 * 1024 * 1024 });
  const helm = stdout.trim().split("\n").pop();
  if (!helm) throw new Error("scripts/build-helm.sh printed no path");
  return helm;
}

/** Runs helm; rejects with its output when it exits non-zero. */
export function helm(
  binary: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve({ stdout, stderr })
        : reject(new Error(`helm ${args.join(" ")} exited ${code}:\n${stderr}${stdout}`)),
    );
  });
}
