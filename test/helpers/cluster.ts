import { KubeConfig } from "@kubernetes/client-node";
import { inject } from "vitest";
import { kubectl, type KubectlOptions, type KubectlResult } from "../support/kubectl.js";

export interface TestCluster {
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  kubectl(args: string[], options?: KubectlOptions): Promise<KubectlResult>;
}

/** The control plane the global setup started for this run. */
export function testCluster(): TestCluster {
  return clusterAt(inject("kubeconfigPath"));
}

/** A control plane a test file started for itself, used like the shared one. */
export function clusterAt(kubeconfigPath: string): TestCluster {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  return { kubeconfigPath, kubeConfig, kubectl: (args, options) => kubectl(kubeconfigPath, args, options) };
}

// Defined in test/support (which chaos and the benchmark import, and so must not import vitest), used by most tests.
export { uniqueName } from "../support/fixtures.js";

/** The PhoneNumber kind as ResourceClient takes it, for tests that write PhoneNumbers to the API server directly. */
export const PHONE_NUMBER_RESOURCE = {
  group: "numbers.birdoperator.dev",
  version: "v1alpha1",
  plural: "phonenumbers",
  kind: "PhoneNumber",
  namespaced: true,
};
