import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  ActivateDestinationsResponse,
  EndpointSubscription,
  ErrorBody,
  LongCodeNumber,
  RunningSimulator,
} from "../../src/simulator/index.js";
import { call, expectNoViolations, startTestSimulator, workspacePath, type List } from "./helpers.js";

describe("simulator subscriptions", () => {
  let running: RunningSimulator;
  let number: LongCodeNumber;

  const subscriptionsPath = (rest = ""): string =>
    workspacePath(running, `/endpoints/${number.id}/subscriptions${rest}`);

  beforeAll(async () => {
    running = await startTestSimulator({ rateLimits: { enabled: false } });
    number = running.sim.addNumbers({
      countryCode: "US",
      type: "local",
      monthlyPrice: { currencyCode: "EUR", amount: 1_150_000, exponent: -6 },
    })[0] as LongCodeNumber;
  });

  afterAll(async () => {
    expectNoViolations(running);
    await running.close();
  });

  it("gives a long code number one active `main` subscription at its monthly price, for a month", async () => {
    const list = await call<List<EndpointSubscription>>(running, "GET", subscriptionsPath());
    expect(list.body.results).toHaveLength(1);
    const main = list.body.results[0] as EndpointSubscription;
    expect(main).toMatchObject({
      name: "main",
      status: "active",
      price: { amount: 1_150_000 },
      subscription: { status: "active" },
    });
    const start = new Date(main.subscription?.startAt ?? "");
    const end = new Date(main.subscription?.endAt ?? "");
    expect((end.getTime() - start.getTime()) / 86_400_000).toBeGreaterThanOrEqual(28);
    const one = await call<EndpointSubscription>(running, "GET", subscriptionsPath("/main"));
    expect(one.body).toEqual(main);
  });

  it("cancels `main`: inactive, cancelled, deprovisionAt at period end, issue on the endpoint", async () => {
    const answer = await call<EndpointSubscription>(running, "POST", subscriptionsPath("/main/cancel"));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ name: "main", status: "inactive", subscription: { status: "canceled" } });
    expect(answer.body.subscription?.canceledAt).toEqual(expect.any(String));
    const after = await call<LongCodeNumber>(running, "GET", workspacePath(running, `/numbers-long-code/${number.id}`));
    expect(after.body.deprovisionAt).toBe(answer.body.subscription?.endAt);
    expect(after.body.endpoint?.issues).toEqual(["subscription-is-not-active"]);
    expect(after.body.endpoint?.capabilities?.[0]?.outbound).toMatchObject({
      status: "inactive",
      issues: ["subscription-is-not-active"],
    });
  });

  it("answers a second cancel with 200 and the unchanged subscription", async () => {
    const first = await call<EndpointSubscription>(running, "GET", subscriptionsPath("/main"));
    const again = await call<EndpointSubscription>(running, "POST", subscriptionsPath("/main/cancel"));
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
  });

  it("refuses to activate destinations of a cancelled number, in the body", async () => {
    const path = workspacePath(running, `/endpoints/${number.id}/destinations/activate`);
    const answer = await call<ActivateDestinationsResponse>(running, "POST", path, {
      body: { capability: "sms", countryCodes: ["US"] },
    });
    expect(answer.body.error?.code).toBe("subscription-is-not-active");
  });

  it("404s for unknown subscription names", async () => {
    const answer = await call<ErrorBody>(running, "POST", subscriptionsPath("/NL/cancel"));
    expect(answer).toMatchObject({ status: 404, body: { code: "not-found" } });
  });
});
