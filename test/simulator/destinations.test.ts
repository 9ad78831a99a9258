import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  ActivateDestinationsResponse,
  AlphaNumber,
  Destination,
  Endpoint,
  EndpointSubscription,
  ErrorBody,
  LongCodeNumber,
  RunningSimulator,
} from "../../src/simulator/index.js";
import { call, expectNoViolations, startTestSimulator, workspacePath, type List } from "./helpers.js";

const DESTINATION_COUNTRIES = 25;

function statuses(endpoint: Endpoint | undefined, capability = "sms"): Record<string, number> | undefined {
  return endpoint?.capabilities?.find((c) => c.name === capability)?.outbound?.destinationStatuses;
}

describe("simulator destinations", () => {
  let running: RunningSimulator;
  let number: LongCodeNumber;
  let acme: AlphaNumber;

  const activate = (
    endpointId: string,
    body: unknown,
    validate?: boolean,
  ): Promise<{ status: number; body: ActivateDestinationsResponse }> =>
    call(running, "POST", workspacePath(running, `/endpoints/${endpointId}/destinations/activate`), {
      body,
      ...(validate === undefined ? {} : { query: { validate } }),
    });
  const deactivate = (
    endpointId: string,
    body: unknown,
  ): Promise<{ status: number; body: List<Destination> & ErrorBody }> =>
    call(running, "POST", workspacePath(running, `/endpoints/${endpointId}/destinations/deactivate`), { body });
  const getNumber = async (): Promise<LongCodeNumber> =>
    (await call<LongCodeNumber>(running, "GET", workspacePath(running, `/numbers-long-code/${number.id}`))).body;
  const getSender = async (): Promise<AlphaNumber> =>
    (await call<AlphaNumber>(running, "GET", workspacePath(running, `/numbers-alpha/${acme.id}`))).body;

  beforeAll(async () => {
    running = await startTestSimulator({ rateLimits: { enabled: false } });
    number = running.sim.addNumbers({ countryCode: "NL", type: "mobile" })[0] as LongCodeNumber;
    const senders = await call<List<AlphaNumber>>(running, "GET", workspacePath(running, "/numbers-alpha"));
    acme = senders.body.results.find((s) => s.alphaString === "ACME") as AlphaNumber;
  });

  afterAll(async () => {
    expectNoViolations(running);
    await running.close();
  });

  it("starts a number with every destination available", () => {
    expect(statuses(number.endpoint)).toEqual({
      active: 0,
      inactive: 0,
      available: DESTINATION_COUNTRIES,
      unavailable: 0,
    });
  });

  it("validate=true prices the countries and changes nothing", async () => {
    const before = await getNumber();
    const answer = await activate(number.id, { capability: "sms", countryCodes: ["NL", "BE"] }, true);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      subscriptionPrices: {
        NL: { currencyCode: "EUR", amount: 0, exponent: -6 },
        BE: { currencyCode: "EUR", amount: 0, exponent: -6 },
      },
    });
    expect(await getNumber()).toEqual(before);
  });

  it("activates countries and keeps the endpoint's counts in step", async () => {
    const answer = await activate(number.id, { capability: "sms", countryCodes: ["NL", "BE", "DE", "NL"] });
    expect(answer.status).toBe(200);
    expect(answer.body.results?.map((d) => d.countryCode)).toEqual(["NL", "BE", "DE"]);
    expect(answer.body.results?.[0]).toEqual({
      name: "Netherlands",
      countryCode: "NL",
      immutable: false,
      capabilities: [
        { name: "sms", status: "active", issues: [] },
        { name: "voice", status: "inactive", issues: [] },
      ],
      isBlockedForCapability: { voice: false, sms: false },
    });
    expect(statuses((await getNumber()).endpoint)).toEqual({ active: 3, inactive: 0, available: 22, unavailable: 0 });
    expect(statuses((await getNumber()).endpoint, "voice")).toMatchObject({ active: 0 });
  });

  it("deactivates countries, answering destinations shaped like Bird's", async () => {
    const answer = await deactivate(number.id, { capability: "sms", countryCodes: ["BE", "FR"] });
    expect(answer.status).toBe(200);
    expect(answer.body.results.map((d) => [d.countryCode, d.capabilities?.[0]?.status])).toEqual([
      ["BE", "inactive"],
      ["FR", "inactive"],
    ]);
    expect(statuses((await getNumber()).endpoint)).toEqual({ active: 2, inactive: 2, available: 21, unavailable: 0 });
  });

  it("refuses more than 100 countries to activate and more than 25 to deactivate", async () => {
    const letter = (i: number): string => String.fromCharCode(65 + i);
    const countries = (n: number): string[] =>
      Array.from({ length: n }, (_, i) => `${letter(Math.floor(i / 26))}${letter(i % 26)}`);
    const tooMany = await activate(number.id, { capability: "sms", countryCodes: countries(101) });
    expect(tooMany.status).toBe(422);
    const tooManyOff = await deactivate(number.id, { capability: "sms", countryCodes: countries(26) });
    expect(tooManyOff.status).toBe(422);
    expect(tooManyOff.body.details?.errors).toEqual([expect.objectContaining({ field: "countryCodes" })]);
    const badCountry = await activate(number.id, { capability: "sms", countryCodes: ["Netherlands"] });
    expect(badCountry.status).toBe(422);
    const empty = await activate(number.id, { capability: "sms", countryCodes: [] });
    expect(empty.status).toBe(422);
  });

  it("answers refusals in the body with 200 for activate, 422 for deactivate, and changes nothing", async () => {
    const before = await getNumber();
    const unknown = await activate(number.id, { capability: "sms", countryCodes: ["DE", "KP"] });
    expect(unknown).toMatchObject({
      status: 200,
      body: { error: { code: "destination-not-available", details: { countryCodes: ["KP"] } } },
    });
    const mms = await activate(number.id, { capability: "mms", countryCodes: ["DE"] });
    expect(mms.body.error?.code).toBe("capability-is-not-supported");
    const off = await deactivate(number.id, { capability: "fax", countryCodes: ["DE"] });
    expect(off).toMatchObject({ status: 422, body: { code: "capability-is-not-supported" } });
    expect(await getNumber()).toEqual(before);
  });

  it("404s for an endpoint outside the workspace", async () => {
    const answer = await call<ErrorBody>(
      running,
      "POST",
      workspacePath(running, "/endpoints/nope/destinations/activate"),
      {
        body: { capability: "sms", countryCodes: ["NL"] },
      },
    );
    expect(answer.status).toBe(404);
  });

  it("gives a preloaded alpha sender its active countries, with subscriptions named by country", async () => {
    expect(statuses(acme.endpoint)).toEqual({ active: 2, inactive: 0, available: 20, unavailable: 3 });
    const subscriptions = await call<List<EndpointSubscription>>(
      running,
      "GET",
      workspacePath(running, `/endpoints/${acme.id}/subscriptions`),
    );
    expect(subscriptions.body.results.map((s) => [s.name, s.status, s.price?.amount])).toEqual([
      ["NL", "active", 5_000_000],
      ["GB", "active", 6_000_000],
    ]);
  });

  it("creates a per-country subscription when an alpha destination is activated", async () => {
    const validate = await activate(acme.id, { capability: "sms", countryCodes: ["ES"] }, true);
    expect(validate.body.subscriptionPrices).toEqual({ ES: { currencyCode: "EUR", amount: 7_000_000, exponent: -6 } });
    const answer = await activate(acme.id, { capability: "sms", countryCodes: ["ES"] });
    expect(answer.body.results?.[0]?.capabilities).toEqual([{ name: "sms", status: "active", issues: [] }]);
    const subscription = await call<EndpointSubscription>(
      running,
      "GET",
      workspacePath(running, `/endpoints/${acme.id}/subscriptions/ES`),
    );
    expect(subscription.body).toMatchObject({ name: "ES", status: "active", subscription: { status: "active" } });
    expect(statuses((await getSender()).endpoint)).toMatchObject({ active: 3 });
  });

  it("leaves a blocked country inactive with a compliance issue and no charge", async () => {
    const validate = await activate(acme.id, { capability: "sms", countryCodes: ["FR"] }, true);
    expect(validate.body.subscriptionPrices).toEqual({});
    const answer = await activate(acme.id, { capability: "sms", countryCodes: ["FR"] });
    expect(answer.body.results?.[0]).toMatchObject({
      countryCode: "FR",
      capabilities: [{ name: "sms", status: "inactive", issues: ["compliance-requirement-not-satisfied"] }],
      isBlockedForCapability: { sms: true, voice: false },
    });
    const subscription = await call(running, "GET", workspacePath(running, `/endpoints/${acme.id}/subscriptions/FR`));
    expect(subscription.status).toBe(404);
    const sender = await getSender();
    expect(statuses(sender.endpoint)).toEqual({ active: 3, inactive: 1, available: 19, unavailable: 2 });
    expect(sender.endpoint?.capabilities?.[0]?.outbound?.issues).toEqual(["compliance-requirement-not-satisfied"]);
  });

  it("refuses alpha destinations in the USA and Canada in the body", async () => {
    const answer = await activate(acme.id, { capability: "sms", countryCodes: ["US"] });
    expect(answer.body.error).toMatchObject({ code: "destination-not-available", details: { countryCodes: ["US"] } });
  });

  it("reactivates a cancelled alpha country with a fresh subscription", async () => {
    const cancel = await call<EndpointSubscription>(
      running,
      "POST",
      workspacePath(running, `/endpoints/${acme.id}/subscriptions/ES/cancel`),
    );
    expect(cancel.body.status).toBe("inactive");
    expect(statuses((await getSender()).endpoint)).toMatchObject({ active: 2 });
    await activate(acme.id, { capability: "sms", countryCodes: ["ES"] });
    const subscription = await call<EndpointSubscription>(
      running,
      "GET",
      workspacePath(running, `/endpoints/${acme.id}/subscriptions/ES`),
    );
    expect(subscription.body.status).toBe("active");
    expect(subscription.body.subscription?.id).not.toBe(cancel.body.subscription?.id);
  });
});
