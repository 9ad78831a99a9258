import { describe, expect, it } from "vitest";
import type { AlphaSender, BirdWorkspace, Money } from "../../src/api/v1alpha1/index.js";
import type { AlphaNumber, EndpointSubscription } from "../../src/bird/types.js";
import {
  claimsSender,
  desiredCountries,
  destinationsDrifted,
  observeCountries,
  planCountries,
  screenPrices,
  senderOwner,
  senderReadiness,
  type CountryPlan,
  type CountryRow,
  type Guardrails,
} from "../../src/controllers/alpha-sender/desired.js";

const eur = (units: number): Money => ({ currencyCode: "EUR", amount: units * 1_000_000, exponent: -6 });

function workspace(policy: BirdWorkspace["spec"]["policy"] = {}): BirdWorkspace {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "BirdWorkspace",
    metadata: { name: "ws" },
    spec: { organizationId: "o", workspaceId: "w", accessKeySecretRef: { namespace: "ns", name: "key" }, policy },
  };
}

function sender(active?: number): AlphaNumber {
  const outbound = active === undefined ? {} : { destinationStatuses: { active } };
  return {
    id: "s1",
    endpointId: "s1",
    alphaString: "ACME",
    createdAt: "2025-01-01T00:00:00Z",
    updatedAt: "2025-01-01T00:00:00Z",
    endpoint: {
      id: "s1",
      type: "alphanumeric",
      provisioningStatus: "provisioned",
      capabilities: [{ name: "sms", outbound }],
    },
  };
}

function claim(namespace: string, name: string, creationTimestamp: string): AlphaSender {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "AlphaSender",
    metadata: { namespace, name, creationTimestamp: creationTimestamp as unknown as Date },
    spec: { workspaceRef: { name: "ws" }, alphaString: "ACME" },
  };
}

const sub = (name: string, status = "active", price = eur(5)): EndpointSubscription => ({ name, status, price });
const row = (countryCode: string, status: string, extra: Partial<CountryRow> = {}): CountryRow => ({
  countryCode,
  status,
  blocked: false,
  issues: [],
  ...extra,
});
const rowsOf = (...rows: CountryRow[]): Map<string, CountryRow> => new Map(rows.map((r) => [r.countryCode, r]));
const guard = (extra: Partial<Guardrails> = {}): Guardrails => ({
  workspace: workspace(),
  committed: () => [],
  ...extra,
});

describe("desiredCountries", () => {
  it("deduplicates and sorts", () => {
    expect(desiredCountries({ workspaceRef: { name: "ws" }, countries: ["NL", "DE", "NL", "BE"] })).toEqual([
      "BE",
      "DE",
      "NL",
    ]);
    expect(desiredCountries({ workspaceRef: { name: "ws" } })).toEqual([]);
  });
});

describe("claimsSender", () => {
  const cases = [
    { reason: "same alphaString", spec: { alphaString: "ACME" }, want: true },
    { reason: "other alphaString", spec: { alphaString: "ACME2" }, want: false },
    { reason: "by id", spec: { alphaNumberId: "s1" }, want: true },
    {
      reason: "an id wins over a matching string (the CRD allows only one)",
      spec: { alphaNumberId: "other", alphaString: "ACME" },
      want: false,
    },
    { reason: "neither set", spec: {}, want: false },
  ];
  it.each(cases)("$reason", ({ spec, want }) => {
    expect(claimsSender({ workspaceRef: { name: "ws" }, ...spec }, sender())).toBe(want);
  });
});

describe("senderOwner", () => {
  const cases = [
    {
      reason: "the oldest creationTimestamp wins",
      claims: [claim("b", "x", "2025-01-02T00:00:00Z"), claim("a", "y", "2025-01-01T00:00:00Z")],
      want: "a/y",
    },
    {
      reason: "equal timestamps: namespace/name decides",
      claims: [claim("b", "a", "2025-01-01T00:00:00Z"), claim("a", "z", "2025-01-01T00:00:00Z")],
      want: "a/z",
    },
    {
      reason: "a missing timestamp loses",
      claims: [claim("a", "a", ""), claim("b", "b", "2025-01-01T00:00:00Z")],
      want: "b/b",
    },
  ];
  it.each(cases)("$reason", ({ claims, want }) => {
    const owner = senderOwner(claims);
    expect(`${owner?.metadata.namespace ?? ""}/${owner?.metadata.name ?? ""}`).toBe(want);
  });
});

describe("observeCountries", () => {
  const cases: {
    reason: string;
    desired: string[];
    previous: CountryRow[];
    subs: EndpointSubscription[];
    want: CountryRow[];
  }[] = [
    {
      reason: "an active subscription makes a desired country active, with its price",
      desired: ["NL"],
      previous: [],
      subs: [sub("NL")],
      want: [row("NL", "active", { subscription: { status: "active", price: eur(5) } })],
    },
    {
      reason: "no subscription and no history: pending",
      desired: ["NL"],
      previous: [],
      subs: [],
      want: [row("NL", "pending")],
    },
    {
      reason: "a cancelled subscription makes it inactive",
      desired: ["NL"],
      previous: [row("NL", "active")],
      subs: [sub("NL", "inactive")],
      want: [row("NL", "inactive", { subscription: { status: "inactive", price: eur(5) } })],
    },
    {
      reason: "blocked is remembered from status: subscriptions do not carry it",
      desired: ["FR"],
      previous: [row("FR", "inactive", { blocked: true, issues: ["compliance-requirement-not-satisfied"] })],
      subs: [],
      want: [row("FR", "inactive", { blocked: true, issues: ["compliance-requirement-not-satisfied"] })],
    },
    {
      reason: "a refused country keeps its quoted price",
      desired: ["FR"],
      previous: [row("FR", "refused", { subscription: { price: eur(12) } })],
      subs: [],
      want: [row("FR", "refused", { subscription: { price: eur(12) } })],
    },
    {
      reason: "a country removed from the spec stays while it is managed",
      desired: [],
      previous: [row("NL", "active")],
      subs: [sub("NL")],
      want: [row("NL", "active", { subscription: { status: "active", price: eur(5) } })],
    },
    {
      reason: "active without a subscription keeps the activate answer (no per-country subscription to judge by)",
      desired: ["NL"],
      previous: [row("NL", "active")],
      subs: [],
      want: [row("NL", "active")],
    },
    {
      reason: "subscriptions of countries it does not manage are ignored",
      desired: [],
      previous: [],
      subs: [sub("GB")],
      want: [],
    },
  ];
  it.each(cases)("$reason", ({ desired, previous, subs, want }) => {
    expect([...observeCountries(desired, previous, subs).values()]).toEqual(want);
  });
});

describe("destinationsDrifted", () => {
  const cases = [
    {
      reason: "Bird counts fewer active than we know: deactivated out of band",
      active: 1,
      rows: [row("NL", "active"), row("GB", "active")],
      want: true,
    },
    { reason: "counts match", active: 2, rows: [row("NL", "active"), row("GB", "active")], want: false },
    {
      reason: "more active (countries we do not manage) is not drift",
      active: 5,
      rows: [row("NL", "active")],
      want: false,
    },
    { reason: "Bird gives no count: nothing to compare", active: undefined, rows: [row("NL", "active")], want: false },
    { reason: "pending rows are not counted", active: 0, rows: [row("NL", "pending")], want: false },
  ];
  it.each(cases)("$reason", ({ active, rows, want }) => {
    expect(destinationsDrifted(rows, sender(active))).toBe(want);
  });
});

describe("planCountries", () => {
  const empty: CountryPlan = { repair: [], activate: [], deactivate: [], cancel: [], drop: [] };
  const cases: {
    reason: string;
    desired: string[];
    rows: CountryRow[];
    drifted?: boolean;
    specChanged?: boolean;
    want: Partial<CountryPlan>;
  }[] = [
    {
      reason: "observed == desired: nothing to do",
      desired: ["NL"],
      rows: [row("NL", "active", { subscription: { status: "active" } })],
      want: {},
    },
    {
      reason: "missing countries are activated",
      desired: ["NL", "GB"],
      rows: [row("NL", "pending"), row("GB", "inactive")],
      want: { activate: ["NL", "GB"] },
    },
    {
      reason: "drift re-activates the active ones",
      desired: ["NL"],
      rows: [row("NL", "active")],
      drifted: true,
      want: { repair: ["NL"] },
    },
    {
      reason: "removed and active: deactivate and cancel",
      desired: [],
      rows: [row("NL", "active", { subscription: { status: "active" } })],
      want: { deactivate: ["NL"], cancel: ["NL"] },
    },
    {
      reason: "removed and never activated: just forget it",
      desired: [],
      rows: [row("FR", "refused"), row("US", "unavailable")],
      want: { drop: ["FR", "US"] },
    },
    {
      reason: "blocked is not asked again without a spec change",
      desired: ["FR"],
      rows: [row("FR", "inactive", { blocked: true })],
      want: {},
    },
    {
      reason: "blocked is asked again after a spec change",
      desired: ["FR"],
      rows: [row("FR", "inactive", { blocked: true })],
      specChanged: true,
      want: { activate: ["FR"] },
    },
    {
      reason: "unavailable is not asked again without a spec change",
      desired: ["US"],
      rows: [row("US", "unavailable")],
      want: {},
    },
    {
      reason: "refused countries are screened again (policy or spend may have changed)",
      desired: ["FR"],
      rows: [row("FR", "refused")],
      want: { activate: ["FR"] },
    },
  ];
  it.each(cases)("$reason", ({ desired, rows, drifted = false, specChanged = false, want }) => {
    expect(planCountries(desired, rowsOf(...rows), { drifted, specChanged })).toEqual({ ...empty, ...want });
  });
});

describe("screenPrices", () => {
  const prices = { NL: eur(5), FR: eur(12), DE: eur(6) };
  const cases: {
    reason: string;
    guard: Guardrails;
    countries: string[];
    accepted: string[];
    refused: Record<string, string>;
  }[] = [
    { reason: "no limits: all accepted", guard: guard(), countries: ["NL", "FR"], accepted: ["NL", "FR"], refused: {} },
    {
      reason: "above the per-country limit is refused",
      guard: guard({ maxPrice: eur(10) }),
      countries: ["NL", "FR"],
      accepted: ["NL"],
      refused: { FR: "PriceAboveLimit" },
    },
    {
      reason: "a country Bird quotes no price for is not charged",
      guard: guard({ maxPrice: eur(1) }),
      countries: ["BE"],
      accepted: ["BE"],
      refused: {},
    },
    {
      reason: "the workspace spend counts committed prices and the ones accepted before",
      guard: guard({ workspace: workspace({ maxMonthlySpend: eur(13) }), committed: () => [eur(3)] }),
      countries: ["NL", "DE"],
      accepted: ["NL"],
      refused: { DE: "QuotaExceeded" },
    },
    {
      reason: "a limit in another currency cannot be checked and refuses",
      guard: guard({ maxPrice: { currencyCode: "USD", amount: 100, exponent: 0 } }),
      countries: ["NL"],
      accepted: [],
      refused: { NL: "PriceAboveLimit" },
    },
  ];
  it.each(cases)("$reason", ({ guard: g, countries, accepted, refused }) => {
    const result = screenPrices(countries, prices, g);
    expect(result.accepted).toEqual(accepted);
    expect(Object.fromEntries([...result.refused].map(([c, r]) => [c, r.reason]))).toEqual(refused);
  });

  it("counts what the workspace has committed only under a spend limit, and once for all countries", () => {
    let counted = 0;
    const committed = (): Money[] => (counted++, [eur(3)]);
    screenPrices(["NL", "DE"], prices, guard({ maxPrice: eur(10), committed }));
    expect(counted).toBe(0);
    const limited = guard({ workspace: workspace({ maxMonthlySpend: eur(20) }), committed });
    expect(screenPrices(["NL", "FR", "DE"], prices, limited).accepted).toEqual(["NL", "FR"]);
    expect(counted).toBe(1);
  });
});

describe("senderReadiness", () => {
  const cases: {
    reason: string;
    desired: string[];
    rows: CountryRow[];
    issues?: string[];
    g?: Guardrails;
    observeOnly?: boolean;
    status: string;
    want: string;
    mentions?: string[];
  }[] = [
    {
      reason: "every desired country active",
      desired: ["NL"],
      rows: [row("NL", "active")],
      status: "True",
      want: "Available",
    },
    { reason: "no countries at all is fine", desired: [], rows: [], status: "True", want: "Available" },
    {
      reason: "a blocked country keeps it not Ready",
      desired: ["NL", "FR"],
      rows: [row("NL", "active"), row("FR", "inactive", { blocked: true })],
      status: "False",
      want: "CountryBlocked",
      mentions: ["FR"],
    },
    {
      reason: "a refused price names the country and the price",
      desired: ["FR"],
      rows: [row("FR", "refused", { subscription: { price: eur(12) } })],
      g: guard({ maxPrice: eur(10) }),
      status: "False",
      want: "PriceAboveLimit",
      mentions: ["FR", "12"],
    },
    {
      reason: "a country the policy forbids",
      desired: ["FR"],
      rows: [row("FR", "refused")],
      g: guard({ workspace: workspace({ allowedCountries: ["NL"] }) }),
      status: "False",
      want: "PolicyViolation",
      mentions: ["FR"],
    },
    {
      reason: "a country Bird cannot serve",
      desired: ["US"],
      rows: [row("US", "unavailable")],
      status: "False",
      want: "CountryUnavailable",
      mentions: ["US"],
    },
    {
      reason: "an inactive country is pending",
      desired: ["NL"],
      rows: [row("NL", "inactive")],
      status: "False",
      want: "DestinationsPending",
      mentions: ["NL=inactive"],
    },
    {
      reason: "issues on the sender come first",
      desired: ["NL"],
      rows: [row("NL", "inactive", { blocked: true })],
      issues: ["brand-not-ready"],
      status: "False",
      want: "BirdIssues",
      mentions: ["brand-not-ready", "NL"],
    },
    {
      reason: "ObserveOnly only asks for a healthy sender",
      desired: ["NL"],
      rows: [row("NL", "inactive")],
      observeOnly: true,
      status: "True",
      want: "Available",
    },
  ];
  it.each(cases)(
    "$reason",
    ({ desired, rows, issues = [], g = guard(), observeOnly = false, status, want, mentions = [] }) => {
      const ready = senderReadiness({ name: "ACME", desired, rows: rowsOf(...rows), issues, guard: g, observeOnly });
      expect(ready.status).toBe(status);
      expect(ready.reason).toBe(want);
      for (const text of mentions) expect(ready.message).toContain(text);
    },
  );
});
