import { getCountries } from "libphonenumber-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AlphaSender, AlphaSenderCountryStatus } from "../../src/api/v1alpha1/index.js";
import { DEFAULT_DESTINATIONS } from "../../src/simulator/defaults.js";
import {
  startSimulator,
  type AlphaNumber,
  type CallRecord,
  type EndpointSubscription,
  type RunningSimulator,
} from "../../src/simulator/index.js";
import { testCluster } from "../helpers/cluster.js";
import { apply, createFixture, eventually, getJson, WORKSPACE_ID, type Fixture } from "../support/fixtures.js";
import { startTestOperator, type TestOperator } from "../helpers/operator.js";
import { moreReconciles, writesDuringReconciles } from "../helpers/quiet.js";

const cluster = testCluster();
const RESYNC_MS = 4000;
/** 120 real ISO codes beyond the simulator's defaults, each at 1 EUR a month, for the batching test. */
const EXTRA_COUNTRIES = getCountries()
  .filter((c) => /^[A-Z]{2}$/.test(c) && !(c in DEFAULT_DESTINATIONS))
  .slice(0, 120);

/** The AlphaSender flow as a user drives it: kubectl apply, kubectl wait, kubectl get; Bird is the simulator. */
describe("AlphaSender against the real API server and the simulator", () => {
  let sim: RunningSimulator;
  let fixture: Fixture;
  let operator: TestOperator;

  beforeAll(async () => {
    const destinations = Object.fromEntries(EXTRA_COUNTRIES.map((c) => [c, { name: c, alphaPrice: 1 }]));
    sim = await startSimulator({ port: 0, validateResponses: true, callLogSize: 20_000, config: { destinations } });
    fixture = await createFixture(cluster, sim.url);
    operator = await startTestOperator({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: fixture.namespace,
      workspaceSelector: fixture.selector,
      overrides: { resyncMs: RESYNC_MS },
    });
    await cluster.kubectl(["wait", "--for=condition=Ready", `birdworkspace/${fixture.workspace}`, "--timeout=30s"]);
  });

  afterAll(async () => {
    await operator?.stop();
    expect(sim?.sim.responseViolations() ?? []).toEqual([]);
    await sim?.close();
  });

  /** A sender registered with Bird (outside the API, as in real life), with a unique string. */
  const register = (options: { activeCountries?: string[]; blockedCountries?: string[] } = {}): AlphaNumber =>
    sim.sim.addSender({
      alphaString: `S${Math.random().toString(36).slice(2, 8).toUpperCase()}`,
      workspaceId: WORKSPACE_ID,
      ...options,
    });
  const alpha = (name: string, spec: Record<string, unknown>): Record<string, unknown> => ({
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "AlphaSender",
    metadata: { name, namespace: fixture.namespace },
    spec: { workspaceRef: { name: fixture.workspace }, ...spec },
  });
  const get = (name: string): Promise<AlphaSender> =>
    getJson<AlphaSender>(cluster, ["alphasender", name, "-n", fixture.namespace]);
  const waitReady = (name: string, timeout = "60s"): Promise<unknown> =>
    cluster.kubectl([
      "wait",
      "--for=condition=Ready",
      `alphasender/${name}`,
      "-n",
      fixture.namespace,
      `--timeout=${timeout}`,
    ]);
  const condition = async (
    name: string,
    type: string,
  ): Promise<{ status: string; reason: string; message: string } | undefined> =>
    (await get(name)).status?.conditions?.find((c) => c.type === type);
  const waitReason = (
    name: string,
    reason: string,
    timeoutMs?: number,
  ): Promise<{ status: string; reason: string; message: string }> =>
    eventually(
      `${name} Ready reason ${reason}`,
      async () => {
        const ready = await condition(name, "Ready");
        return ready?.reason === reason ? ready : undefined;
      },
      timeoutMs,
    );
  const waitCountries = (
    name: string,
    check: (rows: AlphaSenderCountryStatus[]) => boolean,
    timeoutMs?: number,
  ): Promise<AlphaSenderCountryStatus[]> =>
    eventually(
      `${name} countries`,
      async () => {
        const rows = (await get(name)).status?.countries ?? [];
        return check(rows) ? rows : undefined;
      },
      timeoutMs,
    );

  const posts = (): number =>
    sim.sim
      .calls()
      .counts.filter((c) => c.method === "POST")
      .reduce((n, c) => n + c.count, 0);
  /** POSTs to one endpoint's route (`/destinations/activate`, `/destinations/deactivate`, `/cancel`). */
  const callsTo = (endpointId: string, suffix: string): CallRecord[] =>
    sim.sim
      .calls()
      .recent.filter(
        (c) => c.method === "POST" && c.path.includes(`/endpoints/${endpointId}/`) && c.route.endsWith(suffix),
      );
  const writesOn = (endpointId: string, suffix: string): CallRecord[] =>
    callsTo(endpointId, suffix).filter((c) => !c.path.includes("validate=true"));
  const bodyCountries = (call: CallRecord): string[] =>
    (call.body as { countryCodes?: string[] } | undefined)?.countryCodes ?? [];
  const subscriptions = (endpointId: string): Map<string, EndpointSubscription> =>
    new Map(sim.sim.state.subscriptions(sim.sim.state.anyEndpoint(endpointId)).results.map((s) => [s.name, s]));
  const activeCount = (endpointId: string): number | undefined =>
    sim.sim.state.getSender(WORKSPACE_ID, endpointId).endpoint?.capabilities?.find((c) => c.name === "sms")?.outbound
      ?.destinationStatuses?.active;
  const activeRows = (rows: AlphaSenderCountryStatus[]): string[] =>
    rows.filter((r) => r.status === "active").map((r) => r.countryCode);

  it("activates the countries, reports each with its subscription, and a second reconcile writes nothing", async () => {
    const sender = register();
    await apply(cluster, alpha("basic", { alphaString: sender.alphaString, countries: ["NL", "GB", "DE"] }));
    await waitReady("basic");
    const { status } = await get("basic");
    expect(status?.alphaNumberId).toBe(sender.id);
    expect(status?.endpointId).toBe(sender.endpointId);
    expect(status?.alphaString).toBe(sender.alphaString);
    expect(status?.provisioningStatus).toBe("provisioned");
    expect(status?.issues).toEqual([]);
    const price = (units: number): { currencyCode: string; amount: number; exponent: number } => ({
      currencyCode: "EUR",
      amount: units * 1_000_000,
      exponent: -6,
    });
    expect(status?.countries).toEqual([
      {
        countryCode: "DE",
        status: "active",
        blocked: false,
        issues: [],
        subscription: { status: "active", price: price(5.5) },
      },
      {
        countryCode: "GB",
        status: "active",
        blocked: false,
        issues: [],
        subscription: { status: "active", price: price(6) },
      },
      {
        countryCode: "NL",
        status: "active",
        blocked: false,
        issues: [],
        subscription: { status: "active", price: price(5) },
      },
    ]);
    expect(status?.conditions?.find((c) => c.type === "Synced")?.status).toBe("True");
    expect(status?.observedGeneration).toBe(1);
    expect(activeCount(sender.id)).toBe(3);
    const printed = await cluster.kubectl(["get", "alphasender", "basic", "-n", fixture.namespace]);
    expect(printed.stdout).toContain(sender.alphaString);
    const events = await cluster.kubectl([
      "get",
      "events",
      "-n",
      fixture.namespace,
      "--field-selector",
      "involvedObject.name=basic",
      "-o",
      "json",
    ]);
    expect(events.stdout).toContain("DestinationsActivated");

    // Reconciled at least twice more (resyncs) with nothing new to do: no write anywhere, of any kind.
    const record = `birdsender/${fixture.workspace}.${sender.id.toLowerCase()}`;
    const quiet = await writesDuringReconciles(
      { cluster, operator, sim, namespace: fixture.namespace },
      "alphasender",
      { namespaced: ["alphasender/basic"], clusterScoped: [record, `birdworkspace/${fixture.workspace}`] },
    );
    expect(quiet.reconciles).toBeGreaterThanOrEqual(2);
    expect(quiet.after).toEqual(quiet.before);
  });

  it("adds countries, and removes them by deactivating and cancelling their subscriptions", async () => {
    const sender = register();
    await apply(cluster, alpha("edit", { alphaString: sender.alphaString, countries: ["NL"] }));
    await waitReady("edit");
    await apply(cluster, alpha("edit", { alphaString: sender.alphaString, countries: ["NL", "BE", "PL"] }));
    await waitCountries("edit", (rows) => activeRows(rows).join() === "BE,NL,PL");
    await waitReady("edit");
    expect(activeCount(sender.id)).toBe(3);

    await apply(cluster, alpha("edit", { alphaString: sender.alphaString, countries: ["BE"] }));
    const rows = await waitCountries("edit", (r) => r.length === 1);
    expect(rows[0]?.countryCode).toBe("BE");
    await waitReady("edit");
    expect(activeCount(sender.id)).toBe(1);
    const subs = subscriptions(sender.id);
    expect(subs.get("BE")?.status).toBe("active");
    expect(subs.get("NL")?.status).toBe("inactive");
    expect(subs.get("PL")?.status).toBe("inactive");
    expect(writesOn(sender.id, "/destinations/deactivate").flatMap(bodyCountries).sort()).toEqual(["NL", "PL"]);
    expect(
      writesOn(sender.id, "/cancel")
        .map((c) => c.path.split("/").at(-2))
        .sort(),
    ).toEqual(["NL", "PL"]);
  });

  it("activates 100 countries in one call and removes 60 in batches of at most 25", async () => {
    const sender = register();
    const hundred = EXTRA_COUNTRIES.slice(0, 100);
    await apply(cluster, alpha("many", { alphaString: sender.alphaString, countries: hundred }));
    await waitReady("many", "90s");
    expect(activeRows((await get("many")).status?.countries ?? [])).toHaveLength(100);
    expect(activeCount(sender.id)).toBe(100);
    const activations = writesOn(sender.id, "/destinations/activate");
    expect(activations.length).toBeGreaterThanOrEqual(1);
    for (const call of activations) expect(bodyCountries(call).length).toBeLessThanOrEqual(100);

    const kept = hundred.slice(60);
    await apply(cluster, alpha("many", { alphaString: sender.alphaString, countries: kept }));
    await waitCountries("many", (rows) => rows.length === 40, 90_000);
    await waitReady("many", "90s");
    expect(activeCount(sender.id)).toBe(40);
    const deactivations = writesOn(sender.id, "/destinations/deactivate");
    expect(deactivations.length).toBeGreaterThanOrEqual(3);
    for (const call of deactivations) expect(bodyCountries(call).length).toBeLessThanOrEqual(25);
    expect(new Set(deactivations.flatMap(bodyCountries))).toEqual(new Set(hundred.slice(0, 60)));
    expect(writesOn(sender.id, "/cancel")).toHaveLength(60);
    const subs = subscriptions(sender.id);
    for (const country of hundred.slice(0, 60)) expect(subs.get(country)?.status).toBe("inactive");
    for (const country of kept) expect(subs.get(country)?.status).toBe("active");
  });

  it("refuses a country above maxMonthlyPricePerCountry and activates the rest", async () => {
    const sender = register();
    // FR costs 12 EUR a month in the simulator, NL and BE 5.
    await apply(
      cluster,
      alpha("pricey", {
        alphaString: sender.alphaString,
        countries: ["NL", "FR", "BE"],
        maxMonthlyPricePerCountry: { currencyCode: "EUR", amount: 10_000_000, exponent: -6 },
      }),
    );
    const ready = await waitReason("pricey", "PriceAboveLimit");
    expect(ready.status).toBe("False");
    expect(ready.message).toContain("FR");
    expect(ready.message).toMatch(/12(\.0+)? EUR/);
    const rows = await waitCountries("pricey", (r) => activeRows(r).join() === "BE,NL");
    expect(rows.find((r) => r.countryCode === "FR")?.status).toBe("refused");
    expect(callsTo(sender.id, "/destinations/activate").some((c) => c.path.includes("validate=true"))).toBe(true);
    expect(writesOn(sender.id, "/destinations/activate").flatMap(bodyCountries)).not.toContain("FR");
    expect(subscriptions(sender.id).has("FR")).toBe(false);
  });

  it(
    "keeps Ready False with CountryBlocked while Bird blocks a country, " + "without asking again every resync",
    async () => {
      const sender = register({ blockedCountries: ["IT"] });
      // Alphanumeric senders cannot reach the USA at all: Bird refuses the whole call, naming the country.
      await apply(cluster, alpha("blocked", { alphaString: sender.alphaString, countries: ["NL", "IT", "US"] }));
      const ready = await waitReason("blocked", "CountryBlocked");
      expect(ready.message).toContain("IT");
      expect(ready.message).toMatch(/cannot send sms .* to US/);
      const rows = (await get("blocked")).status?.countries ?? [];
      expect(rows.find((r) => r.countryCode === "IT")).toMatchObject({
        status: "inactive",
        blocked: true,
        issues: ["compliance-requirement-not-satisfied"],
      });
      expect(rows.find((r) => r.countryCode === "NL")).toMatchObject({ status: "active", blocked: false });
      expect(rows.find((r) => r.countryCode === "US")).toMatchObject({ status: "unavailable", blocked: false });
      const writes = writesOn(sender.id, "/destinations/activate").length;
      // Reconciled again (a resync) without asking Bird again.
      await moreReconciles(operator, "alphasender");
      expect((await condition("blocked", "Ready"))?.reason).toBe("CountryBlocked");
      expect(writesOn(sender.id, "/destinations/activate")).toHaveLength(writes);
    },
  );

  it(
    "lets the first of two AlphaSenders for one sender manage it; " +
      "the other writes nothing until the first is gone",
    async () => {
      const sender = register();
      await apply(
        cluster,
        alpha("owner", { alphaString: sender.alphaString, countries: ["NL"], deletionPolicy: "Delete" }),
      );
      await waitReady("owner");
      await apply(cluster, alpha("second", { alphaString: sender.alphaString, countries: ["GB"] }));
      const conflict = await waitReason("second", "SenderConflict");
      expect(conflict.message).toContain(`${fixture.namespace}/owner`);
      await moreReconciles(operator, "alphasender");
      expect(writesOn(sender.id, "/destinations/activate").flatMap(bodyCountries)).not.toContain("GB");
      expect((await get("second")).status?.alphaNumberId).toBeUndefined();

      await cluster.kubectl(["delete", "alphasender", "owner", "-n", fixture.namespace, "--timeout=60s"]);
      await waitReady("second");
      expect(subscriptions(sender.id).get("GB")?.status).toBe("active");
      expect(subscriptions(sender.id).get("NL")?.status).toBe("inactive");
    },
  );

  it("reports a sender that is not registered, and picks it up once it is", async () => {
    const alphaString = `N${Math.random().toString(36).slice(2, 8).toUpperCase()}`;
    await apply(cluster, alpha("missing", { alphaString, countries: ["NL"] }));
    const ready = await waitReason("missing", "SenderNotFound");
    expect(ready.message).toContain("register the sender with Bird first");
    expect(ready.message).toContain(alphaString);
    sim.sim.addSender({ alphaString, workspaceId: WORKSPACE_ID });
    await waitReady("missing", "30s");
  });

  it("Delete deactivates and cancels (holding the finalizer while Bird fails); Retain leaves Bird alone", async () => {
    const doomed = register();
    const kept = register();
    await apply(
      cluster,
      alpha("delete-me", { alphaString: doomed.alphaString, countries: ["NL", "GB"], deletionPolicy: "Delete" }),
      alpha("retain-me", { alphaString: kept.alphaString, countries: ["NL"], deletionPolicy: "Retain" }),
    );
    await waitReady("delete-me");
    await waitReady("retain-me");

    sim.sim.setFaults({ errorRate: 1, routes: ["cancelSubscription"] });
    try {
      await cluster.kubectl(["delete", "alphasender", "delete-me", "-n", fixture.namespace, "--wait=false"]);
      const held = await eventually("Synced False while Bird fails", async () => {
        const got = await get("delete-me");
        return got.status?.conditions?.find((c) => c.type === "Synced")?.status === "False" ? got : undefined;
      });
      expect(held.metadata?.finalizers).toContain("numbers.birdoperator.dev/finalizer");
      expect(held.status?.conditions?.find((c) => c.type === "Synced")?.message).toMatch(/cancel/);
    } finally {
      sim.sim.setFaults({});
    }
    await cluster.kubectl(["wait", "--for=delete", "alphasender/delete-me", "-n", fixture.namespace, "--timeout=60s"]);
    const subs = subscriptions(doomed.id);
    expect(subs.get("NL")?.status).toBe("inactive");
    expect(subs.get("GB")?.status).toBe("inactive");
    expect(activeCount(doomed.id)).toBe(0);

    await cluster.kubectl(["delete", "alphasender", "retain-me", "-n", fixture.namespace, "--timeout=30s"]);
    expect(subscriptions(kept.id).get("NL")?.status).toBe("active");
    expect(writesOn(kept.id, "/destinations/deactivate")).toHaveLength(0);
    expect(writesOn(kept.id, "/cancel")).toHaveLength(0);
  });

  it("restores a country deactivated or cancelled out of band", async () => {
    const sender = register();
    await apply(cluster, alpha("drift", { alphaString: sender.alphaString, countries: ["NL", "GB"] }));
    await waitReady("drift");

    // Bird shows deactivation only as a count: the operator sees it when the shared sender list refreshes.
    sim.sim.deactivateDestinations(sender.id, { capability: "sms", countryCodes: ["NL"] });
    expect(activeCount(sender.id)).toBe(1);
    const started = Date.now();
    await eventually(
      "NL re-activated",
      async () => (activeCount(sender.id) === 2 ? true : undefined),
      2 * RESYNC_MS + 3000,
    );
    const deactivationRepairMs = Date.now() - started;
    // Bird reports deactivations only as a count, so the repair asks again for the spec's countries: one call, on this
    // sender's endpoint, with exactly NL and GB; and it is NL, the one deactivated, that is active again in Bird.
    const repairs = writesOn(sender.endpointId, "/destinations/activate").filter((c) => Date.parse(c.time) >= started);
    expect(repairs.map((c) => bodyCountries(c).sort())).toEqual([["GB", "NL"]]);
    expect(sim.sim.state.anyEndpoint(sender.id).destinations.get("sms")?.get("NL")).toBe("active");

    sim.sim.cancelSubscription(sender.id, "GB");
    expect(subscriptions(sender.id).get("GB")?.status).toBe("inactive");
    const cancelled = Date.now();
    await eventually(
      "GB subscribed again",
      async () => (subscriptions(sender.id).get("GB")?.status === "active" ? true : undefined),
      RESYNC_MS + 3000,
    );
    const cancelRepairMs = Date.now() - cancelled;
    expect(subscriptions(sender.id).get("NL")?.status).toBe("active");
    expect(activeCount(sender.id)).toBe(2);
    await waitReady("drift");
    console.log(
      `[alpha-sender] drift repaired: deactivation after ${deactivationRepairMs} ms, ` +
        `cancellation after ${cancelRepairMs} ms (resync ${RESYNC_MS} ms)`,
    );
  });

  it("ObserveOnly reports Bird's state and never writes", async () => {
    const sender = register({ activeCountries: ["NL"] });
    const before = posts();
    await apply(
      cluster,
      alpha("observe", { alphaString: sender.alphaString, countries: ["NL", "GB"], managementPolicy: "ObserveOnly" }),
    );
    await waitReady("observe");
    const rows = (await get("observe")).status?.countries ?? [];
    expect(rows.map((r) => `${r.countryCode}=${r.status ?? ""}`)).toEqual(["GB=pending", "NL=active"]);
    await moreReconciles(operator, "alphasender");
    await cluster.kubectl(["delete", "alphasender", "observe", "-n", fixture.namespace, "--timeout=30s"]);
    expect(posts()).toBe(before);
    expect(subscriptions(sender.id).get("NL")?.status).toBe("active");
  });

  describe("with a monthly spend limit on the workspace", () => {
    let limited: Fixture;
    let limitedOperator: TestOperator;

    beforeAll(async () => {
      // 16 EUR: one sender's NL (5) + DE (5.5), and no more than one further country.
      limited = await createFixture(cluster, sim.url, {
        policy: { maxMonthlySpend: { currencyCode: "EUR", amount: 16, exponent: 0 } },
      });
      limitedOperator = await startTestOperator({
        kubeconfigPath: cluster.kubeconfigPath,
        namespace: limited.namespace,
        workspaceSelector: limited.selector,
        overrides: { resyncMs: RESYNC_MS },
      });
      await cluster.kubectl(["wait", "--for=condition=Ready", `birdworkspace/${limited.workspace}`, "--timeout=30s"]);
    });

    afterAll(async () => {
      await limitedOperator?.stop();
    });

    it("never lets four senders activating at the same time together exceed it", async () => {
      const senders = Array.from({ length: 4 }, () => register());
      await apply(
        cluster,
        ...senders.map((sender, i) => ({
          apiVersion: "numbers.birdoperator.dev/v1alpha1",
          kind: "AlphaSender",
          metadata: { name: `spend-${i}`, namespace: limited.namespace },
          spec: { workspaceRef: { name: limited.workspace }, alphaString: sender.alphaString, countries: ["NL", "DE"] },
        })),
      );
      const rows = await eventually(
        "every country active or refused",
        async () => {
          const all = await Promise.all(
            senders.map(
              async (_, i) =>
                (await getJson<AlphaSender>(cluster, ["alphasender", `spend-${i}`, "-n", limited.namespace])).status
                  ?.countries ?? [],
            ),
          );
          const settled = all.every(
            (r) => r.length === 2 && r.every((row) => row.status === "active" || row.status === "refused"),
          );
          return settled ? all.flat() : undefined;
        },
        60_000,
      );
      const paid = senders.flatMap((sender) =>
        [...subscriptions(sender.id).values()].filter((sub) => sub.status === "active"),
      );
      const spent = paid.reduce((sum, sub) => sum + (sub.price ? sub.price.amount * 10 ** sub.price.exponent : 0), 0);
      expect(paid.length).toBeGreaterThan(0);
      expect(rows.some((row) => row.status === "refused")).toBe(true);
      expect(spent).toBeLessThanOrEqual(16);
    });
  });
});
