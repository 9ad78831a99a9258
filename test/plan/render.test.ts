import { describe, expect, it } from "vitest";
import { mergePatch } from "../../src/plan/cluster.js";
import { exitCode } from "../../src/plan/planner.js";
import { renderMarkdown, renderText } from "../../src/plan/render.js";
import { PLAN_API_VERSION, type Plan, type ResourcePlan } from "../../src/plan/types.js";

const EUR = (amount: number): { currencyCode: string; amount: number; exponent: number } => ({
  currencyCode: "EUR",
  amount,
  exponent: -6,
});

function resource(name: string, fields: Partial<ResourcePlan> = {}): ResourcePlan {
  return {
    kind: "PhoneNumber",
    namespace: "team-a",
    name,
    workspace: "default",
    operation: "create",
    changedFields: [],
    apiServer: { dryRun: "accepted" },
    actions: [],
    problems: [],
    notes: [],
    ...fields,
  };
}

function plan(resources: ResourcePlan[], fields: Partial<Plan> = {}): Plan {
  const violations = resources.flatMap((r) =>
    r.problems
      .filter((p) => p.severity === "violation")
      .map((p) => ({ object: `${r.namespace}/${r.name}`, kind: r.kind, reason: p.reason, message: p.message })),
  );
  const changes = resources.filter(
    (r) => (r.operation !== "none" && r.apiServer.dryRun !== "refused") || r.actions.length,
  ).length;
  return {
    apiVersion: PLAN_API_VERSION,
    kind: "Plan",
    generatedAt: "2026-01-01T00:00:00.000Z",
    server: "https://k8s.example",
    prune: false,
    summary: {
      changes,
      purchases: 0,
      adoptions: 0,
      claims: 0,
      activations: 0,
      deactivations: 0,
      cancellations: 0,
      releases: 0,
      violations: violations.length,
    },
    resources,
    workspaces: [
      {
        name: "default",
        numbers: { before: 1, after: 2, max: 10 },
        monthlySpend: { before: EUR(1_000_000), after: EUR(4_500_000), max: EUR(100_000_000) },
        policy: { allowedCountries: ["GB"], defaultDeletionPolicy: "Retain" },
      },
    ],
    violations,
    warnings: [],
    errors: [],
    ...fields,
  };
}

const buying = resource("sales", {
  actions: [
    {
      type: "buy",
      numberString: "+447700900123",
      stockItemId: "s1",
      countryCode: "GB",
      numberType: "mobile",
      monthlyPrice: EUR(3_500_000),
      record: "default.447700900123",
      description: "buy +447700900123 (GB mobile) for 3.50 EUR a month",
    },
  ],
});
const refused = resource("pricey", {
  problems: [{ reason: "QuotaExceeded", message: "too | much", severity: "violation" }],
});

describe("plan output", () => {
  it(
    "exit codes follow terraform plan -detailed-exitcode: " +
      "0 nothing, 2 changes, 1 errors or (when asked) violations",
    () => {
      expect(exitCode(plan([resource("same", { operation: "none" })]), true)).toBe(0);
      expect(exitCode(plan([buying]), false)).toBe(2);
      expect(exitCode(plan([buying, refused]), false)).toBe(2);
      expect(exitCode(plan([buying, refused]), true)).toBe(1);
      expect(exitCode(plan([refused]), false)).toBe(2);
      expect(exitCode(plan([resource("x", { operation: "update", apiServer: { dryRun: "refused" } })]), false)).toBe(0);
      expect(exitCode(plan([], { errors: ["Bird unreachable"] }), false)).toBe(1);
    },
  );

  it("text: one line per action with its sign, problems and workspaces; colours only when asked", () => {
    const text = renderText(
      plan([buying, refused, resource("same", { operation: "none" })], {
        summary: { ...plan([buying, refused]).summary, purchases: 1 },
      }),
      false,
    );
    expect(text).toContain("Plan: 2 resources change: 1 number to buy (3.50 EUR a month); 1 refused.");
    expect(text).toContain("PhoneNumber team-a/sales: create\n  + buy +447700900123 (GB mobile) for 3.50 EUR a month");
    expect(text).toContain("  ! QuotaExceeded: too | much");
    expect(text).toContain("1 resource without changes");
    expect(text).toContain(
      "  numbers        1 → 2 (max 10)\n" + "  monthly spend  1.00 EUR → 4.50 EUR (max 100.00 EUR)",
    );
    expect(text).not.toContain("\x1b[");
    expect(renderText(plan([buying]), true)).toContain("\x1b[32m+ buy");
    expect(renderText(plan([resource("same", { operation: "none" })]), false)).toMatch(
      /^No changes: the operator has nothing to do\./,
    );
  });

  it("markdown: a table for a pull-request comment, with pipes in messages escaped", () => {
    const markdown = renderMarkdown(plan([buying, refused]));
    expect(markdown).toMatch(/^### bird-operator plan\n/);
    expect(markdown).toContain(
      "| 💶 | PhoneNumber `team-a/sales` | create | buy +447700900123 (GB mobile) for 3.50 EUR a month |",
    );
    expect(markdown).toContain("- 🛑 PhoneNumber `team-a/pricey`: **QuotaExceeded**: too | much");
    expect(markdown).toContain(
      "| `default` | 1 → 2 (max 10) | 1.00 EUR → 4.50 EUR (max 100.00 EUR) " +
        "| countries GB; namespaces: the operator's only; default deletion policy Retain |",
    );
    expect(markdown).toContain("| 🛑 | PhoneNumber `team-a/pricey` | create | nothing in Bird |");
  });

  it(
    "the API server's dry run patches the spec into exactly the input's: " +
      "missing fields are removed, lists replaced",
    () => {
      expect(mergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1, 2] }, { b: { c: 2 }, l: [3], e: "new" })).toEqual({
        a: null,
        b: { c: 2, d: null },
        l: [3],
        e: "new",
      });
    },
  );
});
