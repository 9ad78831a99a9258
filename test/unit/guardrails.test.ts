import { describe, expect, it } from "vitest";
import type { BirdWorkspace, LabelSelector } from "../../src/api/v1alpha1/index.js";
import { matchesSelector, namespaceAllowed } from "../../src/controllers/guardrails.js";
import { quotaRefusal } from "../../src/controllers/phone-number/purchase.js";
import type { Usage } from "../../src/ownership/usage.js";

describe("matchesSelector", () => {
  const labels = { team: "payments", tier: "prod", empty: "" };
  it.each<{ reason: string; selector: LabelSelector; matches: boolean }>([
    { reason: "an empty selector matches every namespace", selector: {}, matches: true },
    {
      reason: "matchLabels: every pair present",
      selector: { matchLabels: { team: "payments", tier: "prod" } },
      matches: true,
    },
    {
      reason: "matchLabels: one value differs",
      selector: { matchLabels: { team: "payments", tier: "dev" } },
      matches: false,
    },
    { reason: "matchLabels: a key the namespace lacks", selector: { matchLabels: { owner: "x" } }, matches: false },
    {
      reason: "matchLabels: an empty value must be present and empty",
      selector: { matchLabels: { empty: "" } },
      matches: true,
    },
    {
      reason: "In: the value is one of them",
      selector: { matchExpressions: [{ key: "tier", operator: "In", values: ["dev", "prod"] }] },
      matches: true,
    },
    {
      reason: "In: the value is none of them",
      selector: { matchExpressions: [{ key: "tier", operator: "In", values: ["dev"] }] },
      matches: false,
    },
    {
      reason: "In: a missing key never matches, not even an empty value",
      selector: { matchExpressions: [{ key: "owner", operator: "In", values: [""] }] },
      matches: false,
    },
    {
      reason: "In: a present empty value matches an empty value",
      selector: { matchExpressions: [{ key: "empty", operator: "In", values: [""] }] },
      matches: true,
    },
    {
      reason: "NotIn: the value is none of them",
      selector: { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["dev"] }] },
      matches: true,
    },
    {
      reason: "NotIn: the value is one of them",
      selector: { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["prod"] }] },
      matches: false,
    },
    {
      reason: "NotIn: a missing key matches (as in Kubernetes)",
      selector: { matchExpressions: [{ key: "owner", operator: "NotIn", values: ["x"] }] },
      matches: true,
    },
    {
      reason: "Exists: the key is there",
      selector: { matchExpressions: [{ key: "team", operator: "Exists" }] },
      matches: true,
    },
    {
      reason: "Exists: the key is there with an empty value",
      selector: { matchExpressions: [{ key: "empty", operator: "Exists" }] },
      matches: true,
    },
    {
      reason: "Exists: the key is missing",
      selector: { matchExpressions: [{ key: "owner", operator: "Exists" }] },
      matches: false,
    },
    {
      reason: "DoesNotExist: the key is missing",
      selector: { matchExpressions: [{ key: "owner", operator: "DoesNotExist" }] },
      matches: true,
    },
    {
      reason: "DoesNotExist: the key is there",
      selector: { matchExpressions: [{ key: "team", operator: "DoesNotExist" }] },
      matches: false,
    },
    {
      reason: "everything must hold: labels and every expression",
      selector: {
        matchLabels: { team: "payments" },
        matchExpressions: [
          { key: "tier", operator: "In", values: ["prod"] },
          { key: "owner", operator: "DoesNotExist" },
        ],
      },
      matches: true,
    },
    {
      reason: "one failing expression fails the whole selector",
      selector: {
        matchLabels: { team: "payments" },
        matchExpressions: [
          { key: "tier", operator: "In", values: ["prod"] },
          { key: "team", operator: "DoesNotExist" },
        ],
      },
      matches: false,
    },
  ])("$reason", ({ selector, matches }) => {
    expect(matchesSelector(labels, selector)).toBe(matches);
  });
});

describe("namespaceAllowed", () => {
  const workspace = (allowedNamespaces?: BirdWorkspace["spec"]["allowedNamespaces"]): BirdWorkspace =>
    ({
      metadata: { name: "ws" },
      spec: {
        organizationId: "o",
        workspaceId: "w",
        accessKeySecretRef: { namespace: "ops", name: "bird" },
        allowedNamespaces,
      },
    }) as BirdWorkspace;

  it.each<{
    reason: string;
    allowed: BirdWorkspace["spec"]["allowedNamespaces"];
    namespace: string;
    labels?: Record<string, string>;
    ok: boolean;
  }>([
    {
      reason: "the operator's own namespace, whatever the workspace says",
      allowed: undefined,
      namespace: "ops",
      ok: true,
    },
    { reason: "nothing allowed: no other namespace", allowed: undefined, namespace: "team-a", labels: {}, ok: false },
    {
      reason: "an empty allowedNamespaces: no other namespace either",
      allowed: {},
      namespace: "team-a",
      labels: {},
      ok: false,
    },
    { reason: "named in the list", allowed: { names: ["team-a", "team-b"] }, namespace: "team-b", ok: true },
    { reason: "not named in the list", allowed: { names: ["team-a"] }, namespace: "team-c", ok: false },
    {
      reason: "labels matching the selector",
      allowed: { selector: { matchLabels: { bird: "yes" } } },
      namespace: "team-a",
      labels: { bird: "yes" },
      ok: true,
    },
    {
      reason: "labels not matching the selector",
      allowed: { selector: { matchLabels: { bird: "yes" } } },
      namespace: "team-a",
      labels: { bird: "no" },
      ok: false,
    },
    {
      reason: "labels unknown (the namespace could not be read): refused, never guessed",
      allowed: { selector: {} },
      namespace: "team-a",
      labels: undefined,
      ok: false,
    },
    {
      reason: "list and selector: either admits",
      allowed: { names: ["team-a"], selector: { matchLabels: { bird: "yes" } } },
      namespace: "team-b",
      labels: { bird: "yes" },
      ok: true,
    },
  ])("$reason", ({ allowed, namespace, labels, ok }) => {
    const result = namespaceAllowed(workspace(allowed), namespace, "ops", labels);
    expect(result.ok).toBe(ok);
    if (!result.ok) {
      expect(result.reason).toBe("Forbidden");
      expect(result.message).toBe(
        `namespace "${namespace}" may not use BirdWorkspace "ws": ` +
          "ask the platform team to add it to spec.allowedNamespaces",
      );
    }
  });
});

describe("quotaRefusal", () => {
  const workspace = (policy: BirdWorkspace["spec"]["policy"]): BirdWorkspace =>
    ({ metadata: { name: "ws" }, spec: { policy } }) as BirdWorkspace;
  const item = { numberString: "+15550100", monthlyPrice: { amount: 1, exponent: 0, currencyCode: "EUR" } };
  const counting = (usage: Usage): { count: () => Usage; calls: () => number } => {
    let calls = 0;
    return { count: () => (calls++, usage), calls: () => calls };
  };

  it("does not count a workspace that has neither maxNumbers nor maxMonthlySpend", () => {
    for (const policy of [undefined, {}, { allowedCountries: ["NL"] }]) {
      const usage = counting({ numbers: 1_000_000, prices: [] });
      expect(quotaRefusal(workspace(policy), usage.count, item)).toBeUndefined();
      expect(usage.calls()).toBe(0);
    }
  });

  it("counts once, and refuses, when a limit is reached", () => {
    const numbers = counting({ numbers: 3, prices: [] });
    expect(quotaRefusal(workspace({ maxNumbers: 3 }), numbers.count, item)).toMatch(/allows 3 numbers and 3 are paid/);
    expect(numbers.calls()).toBe(1);
    const spend = counting({ numbers: 0, prices: [{ amount: 95, exponent: -1, currencyCode: "EUR" }] });
    const limit = { maxMonthlySpend: { amount: 10, exponent: 0, currencyCode: "EUR" } };
    expect(quotaRefusal(workspace(limit), spend.count, item)).toMatch(/would bring the monthly spend/);
    expect(spend.calls()).toBe(1);
  });
});
