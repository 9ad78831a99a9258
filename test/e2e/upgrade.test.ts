import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AlphaSender, BirdNumber, BirdSender, PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { Annotation, FINALIZER } from "../../src/api/v1alpha1/conditions.js";
import { startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { testCluster } from "../helpers/cluster.js";
import { apply, createFixture, eventually, getJson, WORKSPACE_ID, type Fixture } from "../support/fixtures.js";
import { startTestOperator, type TestOperator } from "../helpers/operator.js";

const cluster = testCluster();
const API = "numbers.birdoperator.dev/v1alpha1";

/**
 * A cluster as the previous release left it: ownership in the annotations `number-id` and `purchase-intent` and in
 * status, the finalizer on every managed object, `deletionPolicy: Delete` stored by the old schema default, and
 * AlphaSenders where the oldest naming a sender managed it. The new operator starts on it and must give every object
 * its record without buying, cancelling, deactivating or flipping a single Ready condition.
 */
describe("upgrade from the release that kept ownership in annotations", () => {
  let sim: RunningSimulator;
  let fixture: Fixture;
  let operator: TestOperator | undefined;
  const readyAt = new Map<string, string | undefined>();
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const condition = (
    object: PhoneNumber | AlphaSender,
  ): { status: string; reason: string; lastTransitionTime: string } | undefined =>
    object.status?.conditions?.find((c) => c.type === "Ready");
  const get = <T>(kind: string, name: string): Promise<T> => getJson<T>(cluster, [kind, name, "-n", fixture.namespace]);
  const writes = (): string[] =>
    sim.sim
      .calls()
      .recent.filter((c) => c.method === "POST" && !c.path.includes("validate=true"))
      .map((c) => c.route);

  /** What the previous release wrote: the object with its annotations and finalizer, then its status. */
  async function oldObject(
    kind: "PhoneNumber" | "AlphaSender",
    name: string,
    spec: Record<string, unknown>,
    annotations: Record<string, string>,
    status: Record<string, unknown>,
  ): Promise<void> {
    await apply(cluster, {
      apiVersion: API,
      kind,
      metadata: { name, namespace: fixture.namespace, annotations, finalizers: [FINALIZER] },
      spec: { workspaceRef: { name: fixture.workspace }, deletionPolicy: "Delete", ...spec },
    });
    const plural = kind === "PhoneNumber" ? "phonenumber" : "alphasender";
    const generation = (await get<PhoneNumber>(plural, name)).metadata?.generation;
    const conditions = ["Ready", "Synced"].map((type) => ({
      type,
      status: "True",
      reason: type === "Ready" ? "Available" : "ReconcileSuccess",
      message: "",
      lastTransitionTime: "2026-11-01T00:00:00Z",
      observedGeneration: generation,
    }));
    await cluster.kubectl([
      "patch",
      plural,
      name,
      "-n",
      fixture.namespace,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { ...status, conditions, observedGeneration: generation } }),
    ]);
  }

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, validateResponses: true, provisioningDelayMs: 100 });
    fixture = await createFixture(cluster, sim.url);
    // The workspace as the previous operator left it: Ready.
    const ready = {
      type: "Ready",
      status: "True",
      reason: "Available",
      message: "",
      lastTransitionTime: "2026-11-01T00:00:00Z",
      observedGeneration: 1,
    };
    await cluster.kubectl([
      "patch",
      "birdworkspace",
      fixture.workspace,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { conditions: [ready], observedGeneration: 1 } }),
    ]);
    const [owned, intended] = sim.sim.addNumbers({
      workspaceId: WORKSPACE_ID,
      countryCode: "US",
      type: "local",
      count: 2,
    });
    const numberStatus = (n: typeof owned): Record<string, unknown> => ({
      numberId: n?.id,
      endpointId: n?.endpointId,
      numberString: n?.numberString,
      countryCode: "US",
      type: "local",
      provisioningStatus: "provisioned",
      subscription: { name: "main", status: "active" },
    });
    await oldObject(
      "PhoneNumber",
      "owned",
      { countryCode: "US", type: "local" },
      { [Annotation.legacyNumberId]: owned?.id ?? "" },
      numberStatus(owned),
    );
    // Killed between the buy and the id: the intent only, with the number already in the workspace.
    await oldObject(
      "PhoneNumber",
      "interrupted",
      { countryCode: "US", type: "local" },
      {
        [Annotation.legacyPurchaseIntent]: JSON.stringify({
          stockItemId: "s-1",
          numberString: intended?.numberString,
          startedAt: new Date().toISOString(),
        }),
      },
      {},
    );
    // A copy of "owned" made before the upgrade (the previous release let it steer the same number): younger, so it
    // gets no record of that number, and buys nothing either.
    await sleep(1100);
    await apply(cluster, {
      apiVersion: API,
      kind: "PhoneNumber",
      metadata: {
        name: "aa-copy-of-owned",
        namespace: fixture.namespace,
        annotations: { [Annotation.legacyNumberId]: owned?.id ?? "" },
      },
      spec: { workspaceRef: { name: fixture.workspace }, countryCode: "US", type: "local", deletionPolicy: "Delete" },
    });
    const sender = sim.sim.addSender({ alphaString: "UPGRADE", workspaceId: WORKSPACE_ID, activeCountries: ["NL"] });
    await oldObject(
      "AlphaSender",
      "sender-owner",
      { alphaString: "UPGRADE", countries: ["NL"] },
      {},
      {
        alphaNumberId: sender.id,
        endpointId: sender.endpointId,
        alphaString: "UPGRADE",
        countries: [{ countryCode: "NL", status: "active" }],
      },
    );
    await sleep(1100); // a later creationTimestamp: the previous release let the oldest AlphaSender manage a sender
    await apply(cluster, {
      apiVersion: API,
      kind: "AlphaSender",
      metadata: { name: "sender-younger", namespace: fixture.namespace },
      spec: { workspaceRef: { name: fixture.workspace }, alphaString: "UPGRADE", countries: ["GB"] },
    });
    for (const [kind, name] of [
      ["phonenumber", "owned"],
      ["phonenumber", "interrupted"],
      ["alphasender", "sender-owner"],
    ] as const)
      readyAt.set(name, condition(await get<PhoneNumber>(kind, name))?.lastTransitionTime);
    sim.sim.resetCalls();
    // One worker: objects are reconciled in list order, so the copy ("aa-...") comes before the object it copies.
    operator = await startTestOperator({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: fixture.namespace,
      workspaceSelector: fixture.selector,
      overrides: { resyncMs: 5000, workers: 1 },
    });
  });

  afterAll(async () => {
    await operator?.stop();
    expect(sim?.sim.responseViolations() ?? []).toEqual([]);
    await sim?.close();
  });

  it("gives every object its record, buys nothing, writes nothing to Bird, and no Ready condition flips", async () => {
    const records = await eventually("both numbers recorded", async () => {
      const items = (await getJson<{ items: BirdNumber[] }>(cluster, ["birdnumbers"])).items.filter(
        (r) => r.spec.workspaceRef.name === fixture.workspace && r.status?.phase === "Bound",
      );
      return items.length === 2 ? items : undefined;
    });
    const owned = await get<PhoneNumber>("phonenumber", "owned");
    const interrupted = await get<PhoneNumber>("phonenumber", "interrupted");
    expect(records.find((r) => r.spec.claimRef?.uid === owned.metadata?.uid)?.status?.numberId).toBe(
      owned.status?.numberId,
    );
    expect(records.find((r) => r.spec.claimRef?.uid === interrupted.metadata?.uid)).toBeDefined();
    const senderRecord = await eventually("the sender recorded", async () =>
      (await getJson<{ items: BirdSender[] }>(cluster, ["birdsenders"])).items.find(
        (r) => r.spec.workspaceRef.name === fixture.workspace,
      ),
    );
    expect(senderRecord.spec.claimRef?.uid).toBe((await get<AlphaSender>("alphasender", "sender-owner")).metadata?.uid);
    await eventually("the younger AlphaSender refused", async () =>
      condition(await get<AlphaSender>("alphasender", "sender-younger"))?.reason === "SenderConflict"
        ? true
        : undefined,
    );
    await eventually("the copy refused", async () =>
      condition(await get<PhoneNumber>("phonenumber", "aa-copy-of-owned"))?.reason === "NumberConflict"
        ? true
        : undefined,
    );
    await cluster.kubectl([
      "wait",
      "--for=condition=Ready",
      "phonenumber/interrupted",
      "-n",
      fixture.namespace,
      "--timeout=30s",
    ]);
    await sleep(6000); // past a resync
    expect(sim.sim.purchases()).toEqual([]);
    expect(writes()).toEqual([]);
    for (const [kind, name] of [
      ["phonenumber", "owned"],
      ["alphasender", "sender-owner"],
    ] as const) {
      const c = condition(await get<PhoneNumber>(kind, name));
      expect([name, c?.status, c?.lastTransitionTime]).toEqual([name, "True", readyAt.get(name)]);
    }
    expect(Object.keys((await get<PhoneNumber>("phonenumber", "owned")).metadata?.annotations ?? {})).not.toContain(
      Annotation.legacyNumberId,
    );
  });

  it(
    "the migrated records are what deletion acts on: " +
      "Delete (stored by the old default) cancels the number it held",
    async () => {
      const owned = await get<PhoneNumber>("phonenumber", "owned");
      await cluster.kubectl(["delete", "phonenumber", "owned", "-n", fixture.namespace, "--timeout=60s"]);
      const cancels = sim.sim
        .calls()
        .recent.filter((c) => c.route.endsWith("/cancel") && c.path.includes(owned.status?.endpointId ?? "?"));
      expect(cancels).toHaveLength(1);
    },
  );
});
