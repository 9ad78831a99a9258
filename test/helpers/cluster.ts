import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, inject } from "vitest";
import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import type { KubeHttp } from "../../src/runtime/kube-http.js";
import type { ResourceClient } from "../../src/runtime/resource-client.js";
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
import { uniqueName } from "../support/fixtures.js";
export { uniqueName };

/** The PhoneNumber kind as ResourceClient takes it, for tests that write PhoneNumbers to the API server directly. */
export const PHONE_NUMBER_RESOURCE = {
  group: "numbers.birdoperator.dev",
  version: "v1alpha1",
  plural: "phonenumbers",
  kind: "PhoneNumber",
  namespaced: true,
};

/**
 * A namespace of its own for the current describe block, over `http` (created before its tests, deleted after them,
 * and `http` closed), and a way to create bare PhoneNumbers in it through `client`.
 */
export function phoneNumberNamespace(
  http: KubeHttp,
  client: ResourceClient<PhoneNumber>,
  prefix: string,
): { namespace: string; create: (name: string, finalizers?: string[]) => Promise<PhoneNumber> } {
  const namespace = uniqueName(prefix);
  beforeAll(async () => {
    await http.request({
      method: "POST",
      path: "/api/v1/namespaces",
      body: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    });
  });
  afterAll(async () => {
    await http.request({ method: "DELETE", path: `/api/v1/namespaces/${namespace}` }).catch(() => undefined);
    http.close();
  });
  const kind = PHONE_NUMBER_RESOURCE;
  const create = (name: string, finalizers?: string[]): Promise<PhoneNumber> =>
    client.create({
      apiVersion: `${kind.group}/${kind.version}`,
      kind: kind.kind,
      metadata: { name, namespace, finalizers },
      spec: { workspaceRef: { name: "ws" }, countryCode: "US", type: "local" },
    } as PhoneNumber);
  return { namespace, create };
}
