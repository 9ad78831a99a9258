import { describe, expect, it } from "vitest";
import type { PhoneNumber, PhoneNumberDestinationStatus } from "../../src/api/v1alpha1/index.js";
import type { LongCodeNumber, NumberStockItem } from "../../src/bird/types.js";
import { planDestinations, stockFilter, stockItemMatches } from "../../src/controllers/phone-number/desired.js";

const spec = (fields: Partial<PhoneNumber["spec"]>): PhoneNumber["spec"] => ({
  workspaceRef: { name: "ws" },
  ...fields,
});

describe("stockFilter", () => {
  it.each([
    {
      reason: "filters: country, type, prefix and features as given",
      spec: spec({ countryCode: "US", type: "local", prefix: "+1212", capabilities: ["sms-outbound"] }),
      want: { countryCodes: ["US"], prefix: "+1212", types: ["local"], features: ["sms-outbound"] },
    },
    {
      reason: "an exact number searches its digits within its own country",
      spec: spec({ numberString: "+31612345678" }),
      want: { countryCodes: ["NL"], prefix: "+31612345678" },
    },
    // Bird answers 422 invalid-filter to a prefix without countryCodes: the number is looked for without one.
    {
      reason: "an exact number of no known country sends no prefix",
      spec: spec({ numberString: "+19990000000" }),
      want: {},
    },
    {
      reason: "an exact number within a country given in the spec searches its digits there",
      spec: spec({ countryCode: "GB", numberString: "+442071234567" }),
      want: { countryCodes: ["GB"], prefix: "+442071234567" },
    },
    {
      reason: "the number's own digits win over a prefix",
      spec: spec({ countryCode: "GB", prefix: "+4420", numberString: "+442071234567" }),
      want: { countryCodes: ["GB"], prefix: "+442071234567" },
    },
    {
      reason: "a prefix without a country is not sent (Bird would answer 422)",
      spec: spec({ prefix: "+1212", type: "local" }),
      want: { types: ["local"] },
    },
    {
      reason: "no capabilities asked: no features filter",
      spec: spec({ countryCode: "NL", capabilities: [] }),
      want: { countryCodes: ["NL"] },
    },
  ])("$reason", ({ spec: given, want }) => {
    const filter = Object.fromEntries(Object.entries(stockFilter(given)).filter(([, v]) => v !== undefined));
    expect(filter).toEqual(want);
  });
});

const stockItem = (fields: Partial<NumberStockItem> = {}): NumberStockItem => ({
  id: "item-1",
  countryCode: "US",
  type: "local",
  numberString: "+12125550100",
  capabilities: { sms: { inbound: true, outbound: true }, voice: { inbound: true, outbound: false } },
  monthlyPrice: { currencyCode: "EUR", amount: 1_000_000, exponent: -6 },
  ...fields,
});

describe("stockItemMatches", () => {
  it.each([
    { reason: "a spec that asks nothing takes anything", spec: spec({}), item: stockItem(), matches: true },
    {
      reason: "everything asked matches",
      spec: spec({
        countryCode: "US",
        type: "local",
        prefix: "+1212",
        capabilities: ["sms-outbound", "voice-inbound"],
      }),
      item: stockItem(),
      matches: true,
    },
    { reason: "another country", spec: spec({ countryCode: "CA" }), item: stockItem(), matches: false },
    { reason: "another type", spec: spec({ type: "mobile" }), item: stockItem(), matches: false },
    { reason: "another prefix", spec: spec({ prefix: "+1415" }), item: stockItem(), matches: false },
    {
      reason: "a capability the item lacks (voice outbound)",
      spec: spec({ capabilities: ["voice-outbound"] }),
      item: stockItem(),
      matches: false,
    },
    {
      reason: "an item without capabilities serves none",
      spec: spec({ capabilities: ["sms-inbound"] }),
      item: stockItem({ capabilities: undefined }),
      matches: false,
    },
    {
      reason: "the exact number asked for",
      spec: spec({ numberString: "+12125550100" }),
      item: stockItem(),
      matches: true,
    },
    {
      reason: "any other number than the exact one",
      spec: spec({ numberString: "+12125550101" }),
      item: stockItem(),
      matches: false,
    },
    {
      reason: "the search filters are a first cut only: a prefix match inside the number does not count",
      spec: spec({ prefix: "+1555" }),
      item: stockItem({ numberString: "+12125550100" }),
      matches: false,
    },
  ])("$reason", ({ spec: given, item, matches }) => {
    expect(stockItemMatches(given, item)).toBe(matches);
  });
});

/** A number whose endpoint reports `active` active destinations per capability (undefined: Bird says nothing). */
function numberWithActive(active: Record<string, number | undefined> = {}): LongCodeNumber {
  return {
    id: "n-1",
    endpointId: "n-1",
    numberString: "+12125550100",
    countryCode: "US",
    type: "local",
    createdAt: "2026-11-22T10:00:00Z",
    updatedAt: "2026-11-22T10:00:00Z",
    endpoint: {
      id: "n-1",
      capabilities: Object.entries(active).map(([name, count]) => ({
        name,
        outbound: { status: "active", destinationStatuses: count === undefined ? undefined : { active: count } },
      })),
    },
  } as LongCodeNumber;
}

const row = (capability: string, countryCode: string, status = "active"): PhoneNumberDestinationStatus => ({
  capability,
  countryCode,
  status,
});
const plan = (
  result: ReturnType<typeof planDestinations>,
): { activate: Record<string, string[]>; deactivate: Record<string, string[]> } => ({
  activate: Object.fromEntries(result.activate),
  deactivate: Object.fromEntries(result.deactivate),
});

describe("planDestinations", () => {
  it.each([
    {
      reason: "nothing desired, nothing recorded: nothing to do",
      spec: spec({}),
      recorded: [],
      number: numberWithActive(),
      current: true,
      want: { activate: {}, deactivate: {} },
    },
    {
      reason: "new destinations are activated, deduplicated and sorted",
      spec: spec({
        destinations: [
          { capability: "sms", countryCodes: ["NL", "DE"] },
          { capability: "sms", countryCodes: ["DE", "BE"] },
        ],
      }),
      recorded: [],
      number: numberWithActive({ sms: 0 }),
      current: true,
      want: { activate: { sms: ["BE", "DE", "NL"] }, deactivate: {} },
    },
    {
      reason: "what is recorded active and counted by Bird is left alone",
      spec: spec({ destinations: [{ capability: "sms", countryCodes: ["DE", "NL"] }] }),
      recorded: [row("sms", "DE"), row("sms", "NL")],
      number: numberWithActive({ sms: 2 }),
      current: true,
      want: { activate: {}, deactivate: {} },
    },
    {
      reason: "Bird counts fewer active than we activated (deactivated out of band): the whole desired set again",
      spec: spec({ destinations: [{ capability: "sms", countryCodes: ["DE", "NL"] }] }),
      recorded: [row("sms", "DE"), row("sms", "NL")],
      number: numberWithActive({ sms: 1 }),
      current: true,
      want: { activate: { sms: ["DE", "NL"] }, deactivate: {} },
    },
    {
      reason: "counts older than our own last write say nothing about drift",
      spec: spec({ destinations: [{ capability: "sms", countryCodes: ["DE", "NL"] }] }),
      recorded: [row("sms", "DE"), row("sms", "NL")],
      number: numberWithActive({ sms: 0 }),
      current: false,
      want: { activate: {}, deactivate: {} },
    },
    {
      reason: "Bird shows no count: no drift is judged",
      spec: spec({ destinations: [{ capability: "sms", countryCodes: ["DE"] }] }),
      recorded: [row("sms", "DE")],
      number: numberWithActive({ sms: undefined }),
      current: true,
      want: { activate: {}, deactivate: {} },
    },
    {
      reason: "a destination recorded but not active yet is activated again",
      spec: spec({ destinations: [{ capability: "sms", countryCodes: ["DE", "NL"] }] }),
      recorded: [row("sms", "DE"), row("sms", "NL", "pending")],
      number: numberWithActive({ sms: 1 }),
      current: true,
      want: { activate: { sms: ["NL"] }, deactivate: {} },
    },
    {
      reason: "a country removed from the spec is deactivated; countries the operator never managed are not touched",
      spec: spec({ destinations: [{ capability: "sms", countryCodes: ["DE"] }] }),
      recorded: [row("sms", "DE"), row("sms", "NL")],
      number: numberWithActive({ sms: 5 }),
      current: true,
      want: { activate: {}, deactivate: { sms: ["NL"] } },
    },
    {
      reason:
        "a capability removed from the spec: every country active for it is deactivated " +
        "(one never active has nothing to deactivate)",
      spec: spec({ destinations: [{ capability: "sms", countryCodes: ["DE"] }] }),
      recorded: [row("sms", "DE"), row("voice", "US"), row("voice", "CA", "pending")],
      number: numberWithActive({ sms: 1, voice: 1 }),
      current: true,
      want: { activate: {}, deactivate: { voice: ["US"] } },
    },
    {
      reason: "capabilities are planned apart: drift on one does not re-activate the other",
      spec: spec({
        destinations: [
          { capability: "sms", countryCodes: ["DE"] },
          { capability: "voice", countryCodes: ["US"] },
        ],
      }),
      recorded: [row("sms", "DE"), row("voice", "US")],
      number: numberWithActive({ sms: 0, voice: 1 }),
      current: true,
      want: { activate: { sms: ["DE"] }, deactivate: {} },
    },
  ])("$reason", ({ spec: given, recorded, number, current, want }) => {
    expect(plan(planDestinations(given, recorded, number, current))).toEqual(want);
  });
});
