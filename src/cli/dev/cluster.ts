import { copyFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { waitForSignal } from "./signals.js";

export const DEFAULT_CRD_DIR = fileURLToPath(new URL("../../../crds", import.meta.url));

export function registerClusterCommand(program: Command): void {
  program
    .command("cluster")
    .description(
      "start a local control plane (etcd + kube-apiserver on loopback) with the CRDs installed, until Ctrl-C",
    )
    .requiredOption("--kubeconfig-out <file>", "where to write the admin kubeconfig")
    .option("--crds <dir>", "directory of CRD manifests to install", DEFAULT_CRD_DIR)
    .action(async (options: { kubeconfigOut: string; crds: string }) => {
      const { ControlPlane } = await import("../../control-plane/control-plane.js");
      const plane = await ControlPlane.start({ crdDir: options.crds, onProgress: (line) => console.error(line) });
      copyFileSync(plane.kubeconfigPath, options.kubeconfigOut);
      console.log(`Control plane ready at ${plane.server}; kubeconfig written to ${options.kubeconfigOut}`);
      await waitForSignal();
      await plane.stop();
    });
}
