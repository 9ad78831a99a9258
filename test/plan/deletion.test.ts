import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BirdNumber, BirdWorkspace, PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { makePlan } from "../../src/plan/planner.js";
import type { ResourcePlan } from "../../src/plan/types.js";
import { DEFAULT_ACCESS_KEY, startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { NS, reader, workspace } from "./in-memory-cluster.js";

function phoneNumber(name: string, spec: Partial<PhoneNumber["spec"]> = {}): PhoneNumber {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "PhoneNumber",
    metadata: { name, namespace: NS, uid: `uid-${name}` },
    spec: { workspaceRef: { name: "ws" }, countryCode: "US", type: "local", ...spec },
  };
}

function record(holder: string, digits: string, phase = "Bound"): BirdNumber {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "BirdNumber",
    metadata: { name: `ws.${digits}` },
    spec: {
      workspaceRef: { name: "ws" },
      numberString: `+${digits}`,
      claimRef: { namespace: NS, name: holder, uid: `uid-${holder}` },
    },
    status: {
      phase,
      numberId: `n-${digits}`,
      endpointId: `e-${digits}`,
      monthlyPrice: { currencyCode: "EUR", amount: 1_000_000, exponent: -6 },
    },
  } as BirdNumber;
}

function notReady(ws: BirdWorkspace, yes = false): BirdWorkspace {
  if (!yes) return ws;
  const condition = {
    type: "Ready",
    status: "False" as const,
    reason: "Unauthorized",
    message: "",
    lastTransitionTime: "",
  };
  return { ...ws, status: { conditions: [condition] } };
}

/**
 * What deleting a PhoneNumber does, by the effective deletion policy (spec, else the workspace's default, else Retain)
 * and deletionKeepReason (ObserveOnly and a namespace no longer admitted never cancel), as --prune plans it.
 */
describe("plan of a deletion", () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, provisioningDelayMs: 0 });
  });

  afterAll(async () => {
    await sim?.close();
  });

  const cases: {
    reason: string;
    object: PhoneNumber;
    workspace?: Partial<BirdWorkspace["spec"]>;
    workspaceNotReady?: boolean;
    phase?: string;
    held?: boolean;
    want: Partial<ResourcePlan> & { action?: string; why?: string };
  }[] = [
    {
      reason: "spec Delete cancels main",
      object: phoneNumber("a", { deletionPolicy: "Delete" }),
      want: { deletionPolicy: "Delete", action: "cancel-subscription" },
    },
    {
      reason: "no spec: the workspace's defaultDeletionPolicy Delete cancels",
      object: phoneNumber("a"),
      workspace: { defaultDeletionPolicy: "Delete" },
      want: { deletionPolicy: "Delete", action: "cancel-subscription" },
    },
    {
      reason: "no spec, no workspace default: Retain releases",
      object: phoneNumber("a"),
      want: { deletionPolicy: "Retain", action: "release", why: "deletionPolicy Retain" },
    },
    {
      reason: "spec Retain wins over the workspace's Delete",
      object: phoneNumber("a", { deletionPolicy: "Retain" }),
      workspace: { defaultDeletionPolicy: "Delete" },
      want: { deletionPolicy: "Retain", action: "release" },
    },
    {
      reason: "ObserveOnly never cancels, even with Delete",
      object: phoneNumber("a", {
        deletionPolicy: "Delete",
        managementPolicy: "ObserveOnly",
        numberString: "+12125550000",
      }),
      want: { action: "release", why: "managementPolicy ObserveOnly" },
    },
    {
      reason: "a namespace no longer admitted never cancels",
      object: phoneNumber("a", { deletionPolicy: "Delete" }),
      workspace: { allowedNamespaces: { names: ["someone-else"] } },
      want: { action: "release", why: 'the namespace may no longer use BirdWorkspace "ws"' },
    },
    {
      reason: "a namespace no longer admitted never cancels, even while the workspace is not Ready",
      object: phoneNumber("a", { deletionPolicy: "Delete" }),
      workspace: { allowedNamespaces: { names: ["someone-else"] } },
      workspaceNotReady: true,
      want: { action: "release", why: 'the namespace may no longer use BirdWorkspace "ws"' },
    },
    {
      reason: "a Lost record is removed, nothing cancelled",
      object: phoneNumber("a", { deletionPolicy: "Delete" }),
      phase: "Lost",
      want: { action: "forget-record" },
    },
    {
      reason: "holding nothing, nothing happens",
      object: phoneNumber("a", { deletionPolicy: "Delete" }),
      held: false,
      want: { actions: [], notes: ["holds no number: nothing to release or cancel"] },
    },
  ];

  for (const c of cases) {
    it(c.reason, async () => {
      const plan = await makePlan([], {
        reader: reader({
          workspaces: [notReady(workspace(sim.url, c.workspace), c.workspaceNotReady)],
          namespaces: new Map([[NS, { metadata: { name: NS } }]]),
          phoneNumbers: [c.object],
          alphaSenders: [],
          birdNumbers: c.held === false ? [] : [record("a", "12125550000", c.phase)],
          birdSenders: [],
        }),
        operatorNamespace: "bird-operator",
        defaultNamespace: NS,
        prune: true,
        accessKey: () => Promise.resolve(DEFAULT_ACCESS_KEY),
        birdTimeoutMs: 5000,
        resyncMs: 600_000,
      });
      expect(plan.errors).toEqual([]);
      const [resource] = plan.resources;
      expect(resource?.operation).toBe("delete");
      const { action, why, ...rest } = c.want;
      expect(resource).toMatchObject(rest);
      if (action) expect(resource?.actions.map((a) => a.type)).toEqual([action]);
      if (why) expect(resource?.actions[0]).toMatchObject({ why });
      const cancelled = action === "cancel-subscription";
      // What the workspace pays for after: a cancelled number no longer counts, a released one still does.
      expect(plan.workspaces[0]?.numbers.after).toBe(c.held === false || c.phase === "Lost" || cancelled ? 0 : 1);
    });
  }
});
