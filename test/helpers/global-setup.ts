import type { TestProject } from "vitest/node";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { installTenantRoles } from "./tenants.js";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfigPath: string;
  }
}

/**
 * One real etcd + kube-apiserver for the whole run, with the CRDs installed, and kube-controller-manager: tenants are
 * bound to the built-in `edit` role, which only its aggregation controller fills with deploy/'s tenant roles, and
 * namespaces finish deleting only through its namespace controller. Tests isolate themselves by unique names; tests
 * that must restart the API server start a control plane of their own.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const plane = await ControlPlane.start({
    crdDir: new URL("../../crds", import.meta.url).pathname,
    controllerManager: true,
    onProgress: (line) => console.log(line),
  });
  await installTenantRoles(plane.kubeconfigPath);
  console.log(
    `[control-plane] ready at ${plane.server} in ${Date.now() - started} ms (kubeconfig ${plane.kubeconfigPath})`,
  );
  project.provide("kubeconfigPath", plane.kubeconfigPath);
  return async () => {
    console.log(
      `[control-plane] kube-controller-manager used ${plane.controllerManagerCpuSeconds()?.toFixed(1) ?? "?"} s of CPU`,
    );
    await plane.stop();
  };
}
