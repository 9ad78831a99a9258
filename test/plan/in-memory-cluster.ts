import type { BirdWorkspace } from "../../src/api/v1alpha1/index.js";
import type { ClusterReader, ClusterState } from "../../src/plan/cluster.js";
import { DEFAULT_ACCESS_KEY, DEFAULT_ORGANIZATION_ID, DEFAULT_WORKSPACE_ID } from "../../src/simulator/index.js";

/** The namespace the plan tests' objects live in. */
export const NS = "team-a";

/** A Ready BirdWorkspace "ws" on the simulator at `endpoint`, admitting NS. */
export function workspace(endpoint: string, spec: Partial<BirdWorkspace["spec"]> = {}): BirdWorkspace {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "BirdWorkspace",
    metadata: { name: "ws", creationTimestamp: new Date("2026-01-01T00:00:00Z") },
    spec: {
      organizationId: DEFAULT_ORGANIZATION_ID,
      workspaceId: DEFAULT_WORKSPACE_ID,
      endpoint,
      accessKeySecretRef: { namespace: "bird-operator", name: "key" },
      allowedNamespaces: { names: [NS] },
      ...spec,
    },
    status: {
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "Available",
          message: "",
          lastTransitionTime: new Date().toISOString(),
        },
      ],
    },
  };
}

/** A cluster the plan reads from memory; every dry run is accepted. */
export function reader(state: Omit<ClusterState, "server">): ClusterReader {
  const fake = {
    server: "https://fake",
    snapshot: () => Promise.resolve({ ...state, server: "https://fake" }),
    names: () => Promise.resolve(new Set(state.phoneNumbers.map((p) => p.metadata?.name ?? ""))),
    dryRunCreate: (_kind: string, object: unknown) => Promise.resolve({ ok: true, object }),
    dryRunSpec: () => Promise.resolve({ ok: false, status: 500, message: "not in this test" }),
    dryRunDelete: () => Promise.resolve({ ok: true, object: {} }),
    secretValue: () => Promise.resolve(DEFAULT_ACCESS_KEY),
  };
  return fake as unknown as ClusterReader;
}
