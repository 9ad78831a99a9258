import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BirdWorkspace, PhoneNumber } from "../../src/api/v1alpha1/index.js";
import type { ClusterReader, ClusterState } from "../../src/plan/cluster.js";
import { makePlan } from "../../src/plan/planner.js";
import {
  DEFAULT_ACCESS_KEY,
  DEFAULT_ORGANIZATION_ID,
  DEFAULT_WORKSPACE_ID,
  startSimulator,
  type RunningSimulator,
} from "../../src/simulator/index.js";

const NS = "team-a";

function workspace(endpoint: string, policy: BirdWorkspace["spec"]["policy"]): BirdWorkspace {
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
      policy,
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
function reader(state: Omit<ClusterState, "server">): ClusterReader {
  const fake = {
    server: "https://fake",
    snapshot: () => Promise.resolve({ ...state, server: "https://fake" }),
    names: () => Promise.resolve(new Set<string>()),
    dryRunCreate: (_kind: string, object: unknown) => Promise.resolve({ ok: true, object }),
    dryRunSpec: () => Promise.resolve({ ok: false, status: 500, message: "not in this test" }),
    dryRunDelete: () => Promise.resolve({ ok: true, object: {} }),
    secretValue: () => Promise.resolve(DEFAULT_ACCESS_KEY),
  };
  return fake as unknown as ClusterReader;
}

/** The workspace's allowedCountries holds for a PhoneNumber's destinations as for its purchase, in the plan too. */
describe("plan of a PhoneNumber's destinations under spec.policy.allowedCountries", () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, provisioningDelayMs: 0 });
  });

  afterAll(async () => {
    await sim?.close();
  });

  it("activates the allowed countries and reports the others as PolicyViolation", async () => {
    const pn: PhoneNumber = {
      apiVersion: "numbers.birdoperator.dev/v1alpha1",
      kind: "PhoneNumber",
      metadata: { name: "line", namespace: NS },
      spec: {
        workspaceRef: { name: "ws" },
        countryCode: "US",
        type: "local",
        destinations: [{ capability: "sms", countryCodes: ["US", "FR", "CA"] }],
      },
    };
    const plan = await makePlan([pn as never], {
      reader: reader({
        workspaces: [workspace(sim.url, { allowedCountries: ["US", "CA"] })],
        namespaces: new Map([[NS, { metadata: { name: NS } }]]),
        phoneNumbers: [],
        alphaSenders: [],
        birdNumbers: [],
        birdSenders: [],
      }),
      operatorNamespace: "bird-operator",
      defaultNamespace: NS,
      prune: false,
      accessKey: () => Promise.resolve(DEFAULT_ACCESS_KEY),
      birdTimeoutMs: 5000,
      resyncMs: 600_000,
    });
    expect(plan.errors).toEqual([]);
    const [resource] = plan.resources;
    expect(resource?.actions.map((a) => a.type)).toEqual(["buy", "activate"]);
    expect(resource?.actions[1]).toMatchObject({ capability: "sms", countries: ["CA", "US"] });
    expect(resource?.problems).toMatchObject([{ reason: "PolicyViolation", severity: "violation" }]);
    expect(resource?.problems[0]?.message).toContain("FR");
  });
});
