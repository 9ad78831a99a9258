import { describe, expect, it } from "vitest";
import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { stockFilter } from "../../src/controllers/phone-number/desired.js";

const spec = (fields: Partial<PhoneNumber["spec"]>): PhoneNumber["spec"] => ({ workspaceRef: { name: "ws" }, ...fields });

describe("stockFilter", () => {
  it.each([
    { reason: "filters: country, type, prefix and features as given", spec: spec({ countryCode: "US", type: "local", prefix: "+1212", capabilities: ["sms-outbound"] }), want: { countryCodes: ["US"], prefix: "+1212", types: ["local"], features: ["sms-outbound"] } },
    { reason: "an exact number searches its digits within its own country", spec: spec({ numberString: "+31612345678" }), want: { countryCodes: ["NL"], prefix: "+31612345678" } },
    // Bird answers 422 invalid-filter to a prefix without countryCodes: the number is looked for without one.
    { reason: "an exact number of no known country sends no prefix", spec: spec({ numberString: "+19990000000" }), want: {} },
  ])("$reason", ({ spec: given, want }) => {
    const filter = Object.fromEntries(Object.entries(stockFilter(given)).filter(([, v]) => v !== undefined));
    expect(filter).toEqual(want);
  });
});
