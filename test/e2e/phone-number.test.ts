import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { testCluster, uniqueName } from "../helpers/cluster.js";
import { apply, createFixture, eventually, getJson, type Fixture } from "../support/fixtures.js";
import { startTestOperator, type TestOperator } from "../helpers/operator.js";
import { writesDuringReconciles } from "../helpers/quiet.js";

const cluster = testCluster();

/** The PhoneNumber flow as a user drives it: kubectl apply, kubectl wait, kubectl get; Bird is the simulator. */
describe("PhoneNumber against the real API server and the simulator", () => {
  let sim: RunningSimulator;
  let fixture: Fixture;
  let operator: TestOperator;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, validateResponses: true, provisioningDelayMs: 300 });
    fixture = await createFixture(cluster, sim.url);
    operator = await startTestOperator({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: fixture.namespace,
      workspaceSelector: fixture.selector,
      overrides: { resyncMs: 4000 },
    });
    await cluster.kubectl(["wait", "--for=condition=Ready", `birdworkspace/${fixture.workspace}`, "--timeout=30s"]);
  });

  afterAll(async () => {
    await operator?.stop();
    expect(sim?.sim.responseViolations() ?? []).toEqual([]);
    await sim?.close();
  });

  const pn = (name: string, spec: Record<string, unknown>): Record<string, unknown> => ({
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "PhoneNumber",
    metadata: { name, namespace: fixture.namespace },
    spec: { workspaceRef: { name: fixture.workspace }, ...spec },
  });
  const get = (name: string): Promise<PhoneNumber> =>
    getJson<PhoneNumber>(cluster, ["phonenumber", name, "-n", fixture.namespace]);
  const waitReady = (name: string, timeout = "60s"): Promise<unknown> =>
    cluster.kubectl([
      "wait",
      "--for=condition=Ready",
      `phonenumber/${name}`,
      "-n",
      fixture.namespace,
      `--timeout=${timeout}`,
    ]);
  const condition = async (
    name: string,
    type: string,
  ): Promise<{ status: string; reason: string; message: string } | undefined> =>
    (await get(name)).status?.conditions?.find((c) => c.type === type);
  const waitReason = (name: string, reason: string): Promise<{ status: string; reason: string; message: string }> =>
    eventually(`${name} Ready reason ${reason}`, async () => {
      const ready = await condition(name, "Ready");
      return ready?.reason === reason ? ready : undefined;
    });
  const birdWrites = (): number =>
    sim.sim
      .calls()
      .counts.filter((c) => c.method === "POST")
      .reduce((n, c) => n + c.count, 0);
  const purchasesOf = (numberString: string | undefined): number =>
    sim.sim.purchases().filter((p) => p.numberString === numberString).length;
  /**
   * What the operator's own caches hold under `key`, as the reconcilers read it (the manager keeps its informers
   * private): the first object `which` accepts.
   */
  type Cached = { kind?: string; metadata?: PhoneNumber["metadata"] };
  const cachedByOperator = (key: string, which: (o: Cached) => boolean): Cached | undefined =>
    (operator.manager as unknown as { informers: { get?: (key: string) => Cached | undefined }[] }).informers
      .map((i) => i.get?.(key))
      .find((o): o is Cached => o !== undefined && which(o));
  const cachedPhoneNumber = (name: string): Cached | undefined =>
    cachedByOperator(`${fixture.namespace}/${name}`, (o) => o.kind === "PhoneNumber");

  it("buys a number by filters, reports everything Bird knows, and a second reconcile writes nothing", async () => {
    await apply(
      cluster,
      pn("filters", {
        countryCode: "US",
        type: "local",
        capabilities: ["sms-outbound"],
        destinations: [{ capability: "sms", countryCodes: ["US", "CA"] }],
      }),
    );
    await waitReady("filters");
    // Subscription dates and price follow on a later reconcile (one GET, made once).
    const { status } = await eventually("subscription details", async () => {
      const got = await get("filters");
      return got.status?.subscription?.startAt ? got : undefined;
    });
    expect(status?.numberString).toMatch(/^\+1\d{10}$/);
    expect(status?.numberId).toBeTruthy();
    expect(status?.provisioningStatus).toBe("provisioned");
    expect(status?.issues).toEqual([]);
    expect(status?.monthlyPrice?.currencyCode).toMatch(/^[A-Z]{3}$/);
    expect(status?.subscription?.status).toBe("active");
    expect(status?.destinations).toEqual([
      { capability: "sms", countryCode: "CA", status: "active" },
      { capability: "sms", countryCode: "US", status: "active" },
    ]);
    expect(status?.pinHint).toContain(status?.numberString);
    expect(purchasesOf(status?.numberString)).toBe(1);
    const printed = await cluster.kubectl(["get", "pn", "filters", "-n", fixture.namespace]);
    expect(printed.stdout).toContain(status?.numberString);

    // Reconciled at least twice more (resyncs of 4 s) with nothing new to do: no write anywhere, of any kind.
    const record = `birdnumber/${fixture.workspace}.${status?.numberString?.slice(1)}`;
    const quiet = await writesDuringReconciles(
      { cluster, operator, sim, namespace: fixture.namespace },
      "phonenumber",
      { namespaced: ["phonenumber/filters"], clusterScoped: [record, `birdworkspace/${fixture.workspace}`] },
    );
    expect(quiet.reconciles).toBeGreaterThanOrEqual(2);
    expect(quiet.after).toEqual(quiet.before);
  });

  it("adopts a number the workspace already owns instead of buying", async () => {
    const [owned] = sim.sim.addNumbers({ countryCode: "NL", type: "mobile", numberString: "+31612345678" });
    await apply(cluster, pn("adopt", { numberString: "+31612345678" }));
    await waitReady("adopt");
    expect((await get("adopt")).status?.numberId).toBe(owned?.id);
    expect(purchasesOf("+31612345678")).toBe(0);
  });

  it("buys an exact number that is in stock, and reports one that is not", async () => {
    sim.sim.addStock([{ numberString: "+442071234567", countryCode: "GB", type: "local" }]);
    await apply(
      cluster,
      pn("exact", { numberString: "+442071234567" }),
      pn("unavailable", { numberString: "+442079999999" }),
    );
    await waitReady("exact");
    expect(purchasesOf("+442071234567")).toBe(1);
    const unavailable = await waitReason("unavailable", "NumberUnavailable");
    expect(unavailable.message).toContain("+442079999999");
    expect(purchasesOf("+442079999999")).toBe(0);
  });

  it("refuses a price above the limit with a clear condition and buys nothing", async () => {
    const before = sim.sim.purchases().length;
    await apply(
      cluster,
      pn("pricey", {
        countryCode: "DE",
        type: "local",
        maxMonthlyPrice: { currencyCode: "EUR", amount: 1, exponent: -6 },
      }),
    );
    const ready = await waitReason("pricey", "PriceAboveLimit");
    expect(ready.message).toMatch(/above spec.maxMonthlyPrice/);
    expect(sim.sim.purchases().length).toBe(before);
    // Stock is not watched: a cheaper item that appears later is found by the next poll (one resync), not never.
    sim.sim.addStock([
      {
        numberString: "+4930555000123",
        countryCode: "DE",
        type: "local",
        monthlyPrice: { currencyCode: "EUR", amount: 1, exponent: -6 },
      },
    ]);
    await waitReady("pricey", "30s");
    expect((await get("pricey")).status?.numberString).toBe("+4930555000123");
  });

  it(
    "bounds what Bird says before writing it: " + "30 issues of 400 characters make a valid status, not a failed write",
    async () => {
      await apply(cluster, pn("noisy", { countryCode: "US", type: "local" }));
      await waitReady("noisy");
      const endpointId = (await get("noisy")).status?.endpointId ?? "";
      sim.sim.reportOnEndpoint(endpointId, {
        issues: Array.from({ length: 30 }, (_, i) => `issue-${i}-${"x".repeat(400)}`),
      });
      const ready = await waitReason("noisy", "BirdIssues");
      const status = (await get("noisy")).status;
      expect(status?.issues).toHaveLength(20);
      expect(status?.issues?.every((i) => i.length <= 256)).toBe(true);
      expect(status?.issues?.at(-1)).toBe("... and 11 more");
      expect(ready.status).toBe("False");
      expect((await condition("noisy", "Synced"))?.status).toBe("True");
      sim.sim.reportOnEndpoint(endpointId, undefined);
      await waitReady("noisy");
    },
  );

  it(
    "shows a provisioning status it does not know verbatim, " + "says so, and polls it at the resync, not every second",
    async () => {
      await apply(cluster, pn("strange", { countryCode: "US", type: "local" }));
      await waitReady("strange");
      const endpointId = (await get("strange")).status?.endpointId ?? "";
      sim.sim.reportOnEndpoint(endpointId, { provisioningStatus: "quarantined-by-carrier" });
      const ready = await waitReason("strange", "UnknownProvisioningStatus");
      expect(ready.message).toContain("quarantined-by-carrier");
      expect((await get("strange")).status?.provisioningStatus).toBe("quarantined-by-carrier");
      const reads = (): number =>
        sim.sim
          .calls()
          .counts.filter((c) => c.method === "GET" && c.route.includes("numbers-long-code"))
          .reduce((n, c) => n + c.count, 0);
      const before = reads();
      await new Promise((r) => setTimeout(r, 6000));
      // At most a resync's list refresh (4 s here) and one read, never one a second.
      expect(reads() - before).toBeLessThanOrEqual(3);
      sim.sim.reportOnEndpoint(endpointId, undefined);
      await waitReady("strange");
    },
  );

  it("adds and removes destinations, and restores one deactivated out of band within a resync", async () => {
    await apply(
      cluster,
      pn("dest", { countryCode: "US", type: "local", destinations: [{ capability: "sms", countryCodes: ["US"] }] }),
    );
    await waitReady("dest");
    await apply(
      cluster,
      pn("dest", {
        countryCode: "US",
        type: "local",
        destinations: [{ capability: "sms", countryCodes: ["US", "GB", "NL"] }],
      }),
    );
    await eventually("three destinations", async () =>
      (await get("dest")).status?.destinations?.filter((d) => d.status === "active").length === 3 ? true : undefined,
    );
    await apply(
      cluster,
      pn("dest", { countryCode: "US", type: "local", destinations: [{ capability: "sms", countryCodes: ["NL"] }] }),
    );
    await eventually("one destination", async () =>
      (await get("dest")).status?.destinations?.length === 1 ? true : undefined,
    );
    const deactivations = sim.sim
      .calls()
      .recent.filter((c) => c.method === "POST" && c.route.endsWith("/destinations/deactivate"));
    expect(JSON.stringify(deactivations.at(-1))).toMatch(/"GB"|"US"/);

    const endpointId = (await get("dest")).status?.endpointId ?? "";
    sim.sim.deactivateDestinations(endpointId, { capability: "sms", countryCodes: ["NL"] });
    const activationsBefore = sim.sim
      .calls()
      .counts.filter((c) => c.route.endsWith("/destinations/activate"))
      .reduce((n, c) => n + c.count, 0);
    await eventually(
      "NL re-activated",
      async () =>
        sim.sim
          .calls()
          .counts.filter((c) => c.route.endsWith("/destinations/activate"))
          .reduce((n, c) => n + c.count, 0) > activationsBefore
          ? true
          : undefined,
      20_000,
    );
  });

  it("never buys a number that cannot serve its destinations: sms destinations need sms-outbound", async () => {
    const before = sim.sim.purchases().length;
    // The simulator's GB local numbers are voice only: none may be bought for sms destinations.
    await apply(
      cluster,
      pn("voice-only", {
        countryCode: "GB",
        type: "local",
        destinations: [{ capability: "sms", countryCodes: ["GB"] }],
      }),
    );
    const ready = await waitReason("voice-only", "NumberUnavailable");
    expect(ready.message).toContain("sms-outbound");
    expect(sim.sim.purchases().length).toBe(before);
  });

  it(
    "reports a destination Bird cannot serve as DestinationUnavailable, " +
      "naming it, and recovers once the spec drops it",
    async () => {
      await apply(
        cluster,
        pn("zz", {
          countryCode: "US",
          type: "local",
          destinations: [{ capability: "sms", countryCodes: ["US", "ZZ"] }],
        }),
      );
      const ready = await waitReason("zz", "DestinationUnavailable");
      expect(ready.message).toMatch(/cannot activate sms destinations .*ZZ.*remove them from spec.destinations/);
      expect((await condition("zz", "Synced"))?.reason).toBe("DestinationUnavailable");
      const events = await cluster.kubectl([
        "get",
        "events",
        "-n",
        fixture.namespace,
        "--field-selector",
        "involvedObject.name=zz,reason=DestinationUnavailable",
        "-o",
        "name",
      ]);
      expect(events.stdout.trim()).not.toBe("");
      await apply(
        cluster,
        pn("zz", { countryCode: "US", type: "local", destinations: [{ capability: "sms", countryCodes: ["US"] }] }),
      );
      await waitReady("zz");
    },
  );

  it("ObserveOnly reports status and never writes to Bird", async () => {
    sim.sim.addNumbers({ countryCode: "CA", type: "local", numberString: "+16135550123" });
    const writesBefore = birdWrites();
    await apply(
      cluster,
      pn("observe", {
        numberString: "+16135550123",
        managementPolicy: "ObserveOnly",
        destinations: [{ capability: "sms", countryCodes: ["CA"] }],
      }),
    );
    await waitReady("observe");
    await new Promise((r) => setTimeout(r, 5000));
    expect(birdWrites()).toBe(writesBefore);
    expect((await get("observe")).status?.numberString).toBe("+16135550123");
  });

  it("Delete cancels the main subscription; Retain does not; a Bird outage holds the finalizer", async () => {
    await apply(
      cluster,
      pn("delete-me", { countryCode: "US", type: "toll-free", deletionPolicy: "Delete" }),
      pn("retain-me", { countryCode: "US", type: "local", deletionPolicy: "Retain" }),
    );
    await waitReady("delete-me");
    await waitReady("retain-me");
    const deleted = (await get("delete-me")).status?.endpointId ?? "";
    const retained = (await get("retain-me")).status?.endpointId ?? "";
    const cancels = (endpointId: string): number =>
      sim.sim
        .calls()
        .recent.filter((c) => c.method === "POST" && c.route.endsWith("/cancel") && c.path?.includes(endpointId))
        .length;

    sim.sim.setFaults({ errorRate: 1, routes: ["cancelSubscription"] });
    await cluster.kubectl(["delete", "pn", "delete-me", "-n", fixture.namespace, "--wait=false"]);
    // The client retries 503s with backoff before the reconcile gives up and reports it.
    const held = await eventually(
      "Synced=False while Bird fails",
      async () => {
        const got = await get("delete-me");
        return got.status?.conditions?.find((c) => c.type === "Synced")?.status === "False" ? got : undefined;
      },
      60_000,
    );
    expect(held.metadata?.finalizers).toContain("numbers.birdoperator.dev/finalizer");
    expect(held.metadata?.deletionTimestamp).toBeTruthy();
    // Never Ready=True Available while the deletion is failing.
    expect(held.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "Deleting",
    });
    sim.sim.setFaults({});
    await cluster.kubectl(["wait", "--for=delete", "pn/delete-me", "-n", fixture.namespace, "--timeout=60s"]);
    expect(cancels(deleted)).toBeGreaterThanOrEqual(1);
    await cluster.kubectl(["delete", "pn", "retain-me", "-n", fixture.namespace, "--timeout=30s"]);
    expect(cancels(retained)).toBe(0);
  });

  it("keeps a tenant's bulk (annotations, labels) out of the operator's caches, not what it reads", async () => {
    const bulky = pn("bulky", { numberString: "+12125550100" });
    const labels = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`tenant.example/l${i}`, "v".repeat(60)]));
    const annotations = {
      "tenant.example/bulk": "x".repeat(90_000),
      "numbers.birdoperator.dev/confirm-delete": "true",
    };
    await apply(cluster, { ...bulky, metadata: { ...(bulky.metadata as object), labels, annotations } });
    await eventually("bulky reconciled", async () => (await get("bulky")).status?.observedGeneration);
    const cached = cachedPhoneNumber("bulky");
    expect(cached?.metadata?.annotations).toEqual({ "numbers.birdoperator.dev/confirm-delete": "true" });
    expect(cached?.metadata?.labels).toBeUndefined();
    // kubectl apply's copy of the manifest (the bulk again) is on the server, not in the cache.
    expect(Object.keys((await get("bulky")).metadata?.annotations ?? {})).toContain(
      "kubectl.kubernetes.io/last-applied-configuration",
    );
    // A namespace (which some platforms let teams create and annotate): its labels, which admission reads, and no more.
    const team = `${fixture.namespace}-bulk`;
    await apply(cluster, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: team, labels: { team: "bulk" }, annotations: { "tenant.example/bulk": "x".repeat(90_000) } },
    });
    const namespace = await eventually("the namespace cached", async () =>
      cachedByOperator(team, (o) => o.metadata?.labels?.team === "bulk"),
    );
    expect(namespace.metadata?.annotations).toBeUndefined();
    await cluster.kubectl(["delete", "namespace", team, "--wait=false"]);
  });

  it("buys and releases a number whose tenant put 60 finalizers on it, caching a stand-in for the list", async () => {
    const others = Array.from({ length: 60 }, (_, i) => `${"t".repeat(40)}.tenant.example/keep-${i}`);
    const long = pn("long-finalizers", { countryCode: "US", type: "local", deletionPolicy: "Delete" });
    await apply(cluster, { ...long, metadata: { ...(long.metadata as object), finalizers: others } });
    await waitReady("long-finalizers");
    const ours = "numbers.birdoperator.dev/finalizer";
    const ready = await get("long-finalizers");
    expect(ready.metadata?.finalizers).toEqual([...others, ours]);
    expect(cachedPhoneNumber("long-finalizers")?.metadata?.finalizers).toEqual([ours]);
    const endpointId = ready.status?.endpointId ?? "";
    await cluster.kubectl(["delete", "pn", "long-finalizers", "-n", fixture.namespace, "--wait=false"]);
    // The operator cancels and takes its own finalizer out of the list as it is; the tenant's stay, in order.
    const left = await eventually("our finalizer removed", async () => {
      const finalizers = (await get("long-finalizers")).metadata?.finalizers ?? [];
      return finalizers.includes(ours) ? undefined : finalizers;
    });
    expect(left).toEqual(others);
    const cancels = sim.sim
      .calls()
      .recent.filter((c) => c.method === "POST" && c.route.endsWith("/cancel") && c.path?.includes(endpointId));
    expect(cancels.length).toBeGreaterThanOrEqual(1);
    await cluster.kubectl([
      "patch",
      "pn",
      "long-finalizers",
      "-n",
      fixture.namespace,
      "--type=merge",
      "-p",
      '{"metadata":{"finalizers":null}}',
    ]);
  });

  it("refuses a namespace the workspace does not allow", async () => {
    const other = uniqueName("other");
    await cluster.kubectl(["create", "namespace", other]);
    const op = await startTestOperator({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: fixture.namespace,
      workspaceSelector: fixture.selector,
      overrides: { namespaces: [other] },
    });
    try {
      await apply(cluster, {
        ...pn("forbidden", { countryCode: "US", type: "local" }),
        metadata: { name: "forbidden", namespace: other },
      });
      const ready = await eventually("Forbidden", async () => {
        const got = await getJson<PhoneNumber>(cluster, ["phonenumber", "forbidden", "-n", other]);
        const c = got.status?.conditions?.find((x) => x.type === "Ready");
        return c?.reason === "Forbidden" ? c : undefined;
      });
      expect(ready.message).toContain("allowedNamespaces");
    } finally {
      await op.stop();
    }
  });
});
