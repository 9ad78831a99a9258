import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
}

const BUILD_SCRIPT = fileURLToPath(new URL("../../scripts/build-control-plane.sh", import.meta.url));

/**
 * Finds etcd, kube-apiserver and kube-controller-manager: KUBEBUILDER_ASSETS when set, else the versioned cache,
 * building them from Go modules the first time. The build script owns that logic so that CI,
 * people and the tests share one path.
 */
export async function resolveBinaries(onProgress?: (line: string) => void): Promise<ControlPlaneBinaries> {
  const dir = await new Promise<string>((resolve, reject) => {
    const child = spawn("bash", [BUILD_SCRIPT], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderrTail = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      stderrTail = (stderrTail + text).slice(-4000);
      for (const line of text.split("\n")) if (line.startsWith("[control-plane]")) onProgress?.(line);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const last = stdout.trim().split("\n").pop() ?? "";
      if (code === 0 && last) resolve(last);
      else
        reject(
          new Error(
            `building the control plane failed (exit ${code}); run 'npm run control-plane' to see why:\n${stderrTail}`,
          ),
        );
    });
  });
  return {
    etcd: `${dir}/etcd`,
    kubeApiserver: `${dir}/kube-apiserver`,
    kubeControllerManager: `${dir}/kube-controller-manager`,
  };
}
