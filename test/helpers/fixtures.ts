import { stringify } from "yaml";
import type { TestCluster } from "./cluster.js";
import { uniqueName } from "./cluster.js";

export const ORGANIZATION_ID = "11111111-1111-4111-8111-111111111111";
export const WORKSPACE_ID = "22222222-2222-4222-8222-222222222222";
export const ACCESS_KEY = "demo-access-key";

export interface Fixture {
  namespace: string;
  workspace: string;
  /** Label selector that matches only this fixture's workspace. */
  selector: string;
}

/** A namespace, an AccessKey Secret in it and a BirdWorkspace pointing at the simulator, all uniquely named. */
export async function createFixture(
  cluster: TestCluster,
  simulatorUrl: string,
  workspaceSpec: Record<string, unknown> = {},
  accessKey = ACCESS_KEY,
): Promise<Fixture> {
  const namespace = uniqueName("t");
  const workspace = uniqueName("ws");
  const selector = `bird-operator-test=${workspace}`;
  const docs = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "bird-access-key", namespace }, stringData: { accessKey } },
    {
      apiVersion: "numbers.birdoperator.dev/v1alpha1",
      kind: "BirdWorkspace",
      metadata: { name: workspace, labels: { "bird-operator-test": workspace } },
      spec: {
        organizationId: ORGANIZATION_ID,
        workspaceId: WORKSPACE_ID,
        endpoint: simulatorUrl,
        accessKeySecretRef: { namespace, name: "bird-access-key", key: "accessKey" },
        ...workspaceSpec,
      },
    },
  ];
  await cluster.kubectl(["apply", "-f", "-"], { input: docs.map((d) => stringify(d)).join("---\n") });
  return { namespace, workspace, selector };
}

export function manifest(doc: Record<string, unknown>): string {
  return stringify(doc);
}

export async function apply(cluster: TestCluster, ...docs: Record<string, unknown>[]): Promise<void> {
  await cluster.kubectl(["apply", "-f", "-"], { input: docs.map((d) => stringify(d)).join("---\n") });
}

export async function getJson<T>(cluster: TestCluster, args: string[]): Promise<T> {
  const { stdout } = await cluster.kubectl(["get", ...args, "-o", "json"]);
  return JSON.parse(stdout) as T;
}

/** Polls until `probe` returns a value, or fails with the last value seen. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
}
