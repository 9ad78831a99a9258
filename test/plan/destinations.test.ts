import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { makePlan } from "../../src/plan/planner.js";
import { DEFAULT_ACCESS_KEY, startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { NS, reader, workspace } from "./in-memory-cluster.js";

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
        workspaces: [workspace(sim.url, { policy: { allowedCountries: ["US", "CA"] } })],
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
