import { stringify } from "yaml";
import { API_VERSION } from "../../src/api/v1alpha1/index.js";
import { DEFAULT_ACCESS_KEY, DEFAULT_ORGANIZATION_ID, DEFAULT_WORKSPACE_ID } from "../../src/simulator/types.js";
import type { TestCluster } from "../helpers/cluster.js";

/** The simulator's default organization, workspace and AccessKey: what a fixture's BirdWorkspace names. */
export const ORGANIZATION_ID = DEFAULT_ORGANIZATION_ID;
export const WORKSPACE_ID = DEFAULT_WORKSPACE_ID;
export const ACCESS_KEY = DEFAULT_ACCESS_KEY;

export type Doc = Record<string, unknown>;

export interface Fixture {
  namespace: string;
  workspace: string;
  /** Label selector that matches only this fixture's workspace (an operator's `--workspace-selector`). */
  selector: string;
}

export interface FixtureSpec {
  namespace: string;
  workspace: string;
  /** The Bird endpoint, e.g. a simulator's URL. */
  endpoint: string;
  accessKey?: string;
  /** The workspace's label that `selector` matches, e.g. `["bird-operator-test", workspace]`. */
  label: [string, string];
  workspaceSpec?: Doc;
}

/**
 * The one fixture of the tests, the chaos campaign and the benchmark: a Namespace, the AccessKey Secret in it and a
 * BirdWorkspace pointing at `endpoint` through that Secret, labelled for one operator. Each applies the documents its
 * own way (kubectl, the API).
 */
export function fixtureDocs(spec: FixtureSpec): { fixture: Fixture; docs: Doc[] } {
  const { namespace, workspace, label } = spec;
  const docs = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "bird-access-key", namespace },
      stringData: { accessKey: spec.accessKey ?? ACCESS_KEY },
    },
    workspaceDoc({
      name: workspace,
      namespace,
      endpoint: spec.endpoint,
      labels: { [label[0]]: label[1] },
      spec: spec.workspaceSpec,
    }),
  ];
  return { fixture: { namespace, workspace, selector: `${label[0]}=${label[1]}` }, docs };
}

/** A BirdWorkspace of the simulator's default organization and workspace, its AccessKey in `namespace`. */
export function workspaceDoc(options: {
  name: string;
  namespace: string;
  endpoint: string;
  labels?: Record<string, string>;
  spec?: Doc;
}): Doc {
  const { name, namespace, endpoint } = options;
  return {
    apiVersion: API_VERSION,
    kind: "BirdWorkspace",
    metadata: { name, labels: options.labels ?? {} },
    spec: {
      organizationId: ORGANIZATION_ID,
      workspaceId: WORKSPACE_ID,
      endpoint,
      accessKeySecretRef: { namespace, name: "bird-access-key", key: "accessKey" },
      ...options.spec,
    },
  };
}

/**
 * A short random suffix for names: every test file shares the cluster and little is deleted, so names must not collide.
 */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A uniquely named fixture, applied with kubectl. */
export async function createFixture(
  cluster: TestCluster,
  simulatorUrl: string,
  workspaceSpec: Doc = {},
  accessKey = ACCESS_KEY,
): Promise<Fixture> {
  const workspace = uniqueName("ws");
  const { fixture, docs } = fixtureDocs({
    namespace: uniqueName("t"),
    workspace,
    endpoint: simulatorUrl,
    accessKey,
    label: ["bird-operator-test", workspace],
    workspaceSpec,
  });
  await apply(cluster, ...docs);
  return fixture;
}

export function manifest(doc: Doc): string {
  return stringify(doc);
}

export async function apply(cluster: TestCluster, ...docs: Doc[]): Promise<void> {
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
