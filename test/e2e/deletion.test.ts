import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AlphaSender, BirdNumber, BirdSender, PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { testCluster, uniqueName } from "../helpers/cluster.js";
import { ACCESS_KEY, apply, eventually, getJson, ORGANIZATION_ID, WORKSPACE_ID } from "../support/fixtures.js";
import { startTestOperator, type TestOperator } from "../helpers/operator.js";
import { createTenant, type Tenant } from "../helpers/tenants.js";

const cluster = testCluster();
const API = "numbers.birdoperator.dev/v1alpha1";
type Doc = Record<string, unknown>;
const DOOMED_WORKSPACE_ID = "44444444-4444-4444-8444-444444444444";

/**
 * Deletion and lifecycle on the real API server with kube-controller-manager (namespace controller): namespace
 * deletion cancels what `Delete` asks and keeps what `Retain` asks, Bird failing holds the namespace with the reason
 * visible, the audit trail survives the namespace, a workspace in use cannot go, and the escape hatch for a vanished
 * workspace never cancels silently. Judged in the simulator.
 */
describe("deletion: namespaces, workspaces and the escape hatch", () => {
  let sim: RunningSimulator;
  let operator: TestOperator;
  const operatorNamespace = uniqueName("op");
  const ws = uniqueName("ws");
  const teams: Tenant[] = [];
  const namespaces = Array.from({ length: 4 }, () => uniqueName("team"));

  beforeAll(async () => {
    const doomed = { organizationId: ORGANIZATION_ID, workspaceId: DOOMED_WORKSPACE_ID, accessKey: "doomed-key" };
    sim = await startSimulator({
      port: 0,
      validateResponses: true,
      provisioningDelayMs: 100,
      extraWorkspaces: [doomed],
    });
    for (const namespace of namespaces) teams.push(await createTenant(cluster, { namespace }));
    await apply(
      cluster,
      { apiVersion: "v1", kind: "Namespace", metadata: { name: operatorNamespace } },
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "bird-access-key", namespace: operatorNamespace },
        stringData: { accessKey: ACCESS_KEY },
      },
      workspaceDoc(ws),
    );
    operator = await startTestOperator({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: operatorNamespace,
      workspaceSelector: `bird-operator-test=${ws}`,
      overrides: { namespaces: [...namespaces, operatorNamespace], resyncMs: 5000, purchaseGraceMs: 3000 },
    });
    await cluster.kubectl(["wait", "--for=condition=Ready", `birdworkspace/${ws}`, "--timeout=30s"]);
  });

  afterAll(async () => {
    await operator?.stop();
    expect(sim?.sim.responseViolations() ?? []).toEqual([]);
    await sim?.close();
  });

  function workspaceDoc(name: string, spec: Doc = {}): Doc {
    return {
      apiVersion: API,
      kind: "BirdWorkspace",
      metadata: { name, labels: { "bird-operator-test": ws } },
      spec: {
        organizationId: ORGANIZATION_ID,
        workspaceId: WORKSPACE_ID,
        endpoint: sim.url,
        accessKeySecretRef: { namespace: operatorNamespace, name: "bird-access-key" },
        allowedNamespaces: { names: namespaces },
        ...spec,
      },
    };
  }
  const team = (i: number): Tenant => teams[i] as Tenant;
  const doc = (tenant: Tenant, kind: string, name: string, spec: Doc, workspace = ws): Doc => ({
    apiVersion: API,
    kind,
    metadata: { name, namespace: tenant.namespace },
    spec: { workspaceRef: { name: workspace }, ...spec },
  });
  const tenantApply = (tenant: Tenant, ...docs: Doc[]): Promise<unknown> =>
    tenant.kubectl(["apply", "-f", "-"], { input: docs.map((d) => JSON.stringify(d)).join("\n") });
  const waitReady = (tenant: Tenant, kind: string, name: string): Promise<unknown> =>
    cluster.kubectl(["wait", "--for=condition=Ready", `${kind}/${name}`, "-n", tenant.namespace, "--timeout=60s"]);
  const get = <T>(tenant: Tenant, kind: string, name: string): Promise<T> =>
    getJson<T>(cluster, [kind, name, "-n", tenant.namespace]);
  const mainStatus = (endpointId: string | undefined): string | undefined =>
    sim.sim.state.subscriptions(sim.sim.state.anyEndpoint(endpointId ?? "")).results.find((s) => s.name === "main")
      ?.status;
  const countryStatus = (endpointId: string | undefined, country: string): string | undefined =>
    sim.sim.state.subscriptions(sim.sim.state.anyEndpoint(endpointId ?? "")).results.find((s) => s.name === country)
      ?.status;
  const namespaceGone = (namespace: string, timeout = "90s"): Promise<unknown> =>
    cluster.kubectl(["wait", "--for=delete", `namespace/${namespace}`, `--timeout=${timeout}`]);
  const record = (name: string | undefined): Promise<BirdNumber> =>
    getJson<BirdNumber>(cluster, ["birdnumber", name ?? "?"]);
  const recordEvents = async (name: string | undefined): Promise<string[]> =>
    (
      await getJson<{ items: { reason: string }[] }>(cluster, [
        "events",
        "-n",
        "default",
        `--field-selector=involvedObject.name=${name}`,
      ])
    ).items.map((e) => e.reason);

  it(
    "deleting a namespace cancels the Delete numbers and sender countries, keeps the Retain ones Released, " +
      "and finishes",
    async () => {
      const tenant = team(0);
      const sender = sim.sim.addSender({
        alphaString: `D${Math.random().toString(36).slice(2, 8).toUpperCase()}`,
        workspaceId: WORKSPACE_ID,
      });
      await tenantApply(
        tenant,
        doc(tenant, "PhoneNumber", "cancel-me", { countryCode: "US", type: "local", deletionPolicy: "Delete" }),
        doc(tenant, "PhoneNumber", "keep-me", { countryCode: "US", type: "local", deletionPolicy: "Retain" }),
        doc(tenant, "AlphaSender", "sender", {
          alphaString: sender.alphaString,
          countries: ["NL", "GB"],
          deletionPolicy: "Delete",
        }),
      );
      for (const [kind, name] of [
        ["phonenumber", "cancel-me"],
        ["phonenumber", "keep-me"],
        ["alphasender", "sender"],
      ] as const)
        await waitReady(tenant, kind, name);
      const cancelled = await get<PhoneNumber>(tenant, "phonenumber", "cancel-me");
      const kept = await get<PhoneNumber>(tenant, "phonenumber", "keep-me");
      await cluster.kubectl(["delete", "namespace", tenant.namespace, "--wait=false"]);
      await namespaceGone(tenant.namespace);
      expect(mainStatus(cancelled.status?.endpointId)).not.toBe("active");
      expect(mainStatus(kept.status?.endpointId)).toBe("active");
      expect([countryStatus(sender.endpointId, "NL"), countryStatus(sender.endpointId, "GB")]).toEqual([
        "inactive",
        "inactive",
      ]);
      expect((await record(kept.status?.boundTo)).status?.phase).toBe("Released");
      // The namespace refused events while terminating; the trail is on the records (Events in `default`).
      expect(await recordEvents(cancelled.status?.boundTo)).toContain("SubscriptionCancelled");
      expect(await recordEvents(kept.status?.boundTo)).toContain("Released");
    },
  );

  it(
    "Bird refusing every cancellation keeps the namespace Terminating with the reason visible; " +
      "it finishes once Bird recovers",
    async () => {
      const tenant = team(1);
      await tenantApply(
        tenant,
        doc(tenant, "PhoneNumber", "stuck", { countryCode: "US", type: "local", deletionPolicy: "Delete" }),
      );
      await waitReady(tenant, "phonenumber", "stuck");
      const number = await get<PhoneNumber>(tenant, "phonenumber", "stuck");
      sim.sim.setFaults({ errorRate: 1, routes: ["cancelSubscription"] });
      try {
        await cluster.kubectl(["delete", "namespace", tenant.namespace, "--wait=false"]);
        const synced = await eventually(
          "the reason on the object",
          async () =>
            (await get<PhoneNumber>(tenant, "phonenumber", "stuck")).status?.conditions?.find(
              (c) => c.type === "Synced" && c.status === "False",
            ),
          60_000,
        );
        expect(synced.message).toMatch(/cancel|503|500/i);
        const namespace = await getJson<{
          status?: { phase?: string; conditions?: { type: string; message?: string }[] };
        }>(cluster, ["namespace", tenant.namespace]);
        expect(namespace.status?.phase).toBe("Terminating");
        await eventually(
          "the namespace to name the finalizer holding it",
          async () => {
            const ns = await getJson<{ status?: { conditions?: { type: string; message?: string }[] } }>(cluster, [
              "namespace",
              tenant.namespace,
            ]);
            return ns.status?.conditions?.find(
              (c) =>
                c.type === "NamespaceFinalizersRemaining" && c.message?.includes("numbers.birdoperator.dev/finalizer"),
            );
          },
          60_000,
        );
        expect(mainStatus(number.status?.endpointId)).toBe("active");
      } finally {
        sim.sim.setFaults({});
      }
      await namespaceGone(tenant.namespace);
      expect(mainStatus(number.status?.endpointId)).not.toBe("active");
    },
  );

  it("a workspace in use cannot be deleted: it lists what uses it, and goes once they are gone", async () => {
    const tenant = team(2);
    const second = uniqueName("ws-second");
    await apply(
      cluster,
      workspaceDoc(second, {
        workspaceId: "33333333-3333-4333-8333-333333333333",
        accessKeySecretRef: { namespace: operatorNamespace, name: "bird-access-key" },
      }),
    );
    await tenantApply(
      tenant,
      doc(tenant, "PhoneNumber", "user", { countryCode: "US", type: "local", deletionPolicy: "Retain" }, second),
    );
    await eventually("a finalizer on the workspace", async () =>
      (
        await getJson<{ metadata: { finalizers?: string[] } }>(cluster, ["birdworkspace", second])
      ).metadata.finalizers?.includes("numbers.birdoperator.dev/in-use")
        ? true
        : undefined,
    );
    await cluster.kubectl(["delete", "birdworkspace", second, "--wait=false"]);
    const inUse = await eventually("InUse naming the user", async () => {
      const got = await getJson<{ status?: { conditions?: { type: string; reason: string; message: string }[] } }>(
        cluster,
        ["birdworkspace", second],
      );
      return got.status?.conditions?.find((c) => c.type === "Ready" && c.reason === "InUse");
    });
    expect(inUse.message).toContain(`PhoneNumber ${tenant.namespace}/user`);
    await tenant.kubectl(["delete", "phonenumber", "user", "-n", tenant.namespace, "--timeout=30s"]);
    await cluster.kubectl(["wait", "--for=delete", `birdworkspace/${second}`, "--timeout=30s"]);
  });

  it(
    "when the workspace is gone, a Delete deletion waits saying how to let go; " + "Retain lets go without cancelling",
    async () => {
      const tenant = team(3);
      const doomed = uniqueName("ws-doomed");
      // Another Bird workspace (the simulator knows it by its own key), so that this one is not a duplicate.
      await apply(
        cluster,
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "doomed-key", namespace: operatorNamespace },
          stringData: { accessKey: "doomed-key" },
        },
        workspaceDoc(doomed, {
          workspaceId: DOOMED_WORKSPACE_ID,
          accessKeySecretRef: { namespace: operatorNamespace, name: "doomed-key" },
        }),
      );
      await cluster.kubectl(["wait", "--for=condition=Ready", `birdworkspace/${doomed}`, "--timeout=30s"]);
      await tenantApply(
        tenant,
        doc(tenant, "PhoneNumber", "orphan", { countryCode: "US", type: "local", deletionPolicy: "Delete" }, doomed),
      );
      await waitReady(tenant, "phonenumber", "orphan");
      const orphan = await get<PhoneNumber>(tenant, "phonenumber", "orphan");
      // The platform team forces the workspace away: deleted, then its finalizer removed by hand.
      await cluster.kubectl(["delete", "birdworkspace", doomed, "--wait=false"]);
      await cluster.kubectl([
        "patch",
        "birdworkspace",
        doomed,
        "--type=json",
        "-p",
        JSON.stringify([{ op: "remove", path: "/metadata/finalizers" }]),
      ]);
      await cluster.kubectl(["wait", "--for=delete", `birdworkspace/${doomed}`, "--timeout=30s"]);
      await tenant.kubectl(["delete", "phonenumber", "orphan", "-n", tenant.namespace, "--wait=false"]);
      const held = await eventually("the deletion held, saying how to let go", async () =>
        (await get<PhoneNumber>(tenant, "phonenumber", "orphan")).status?.conditions?.find(
          (c) => c.type === "Synced" && /deletionPolicy: Retain/.test(c.message),
        ),
      );
      expect(held.status).toBe("False");
      await tenant.kubectl([
        "patch",
        "phonenumber",
        "orphan",
        "-n",
        tenant.namespace,
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { deletionPolicy: "Retain" } }),
      ]);
      await cluster.kubectl(["wait", "--for=delete", "phonenumber/orphan", "-n", tenant.namespace, "--timeout=30s"]);
      expect(mainStatus(orphan.status?.endpointId)).toBe("active");
      expect((await record(orphan.status?.boundTo)).status?.phase).toBe("Released");
    },
  );

  it("a record deleted by hand is taken back by its holder, never replaced by a purchase", async () => {
    const tenant = team(3);
    await tenantApply(
      tenant,
      doc(tenant, "PhoneNumber", "unrecorded", { countryCode: "US", type: "local", deletionPolicy: "Retain" }),
    );
    await waitReady(tenant, "phonenumber", "unrecorded");
    const before = await get<PhoneNumber>(tenant, "phonenumber", "unrecorded");
    const purchases = sim.sim.purchases().length;
    await cluster.kubectl(["delete", "birdnumber", before.status?.boundTo ?? "?"]);
    const again = await eventually("the record back", async () => {
      const r = await getJson<BirdNumber>(cluster, ["birdnumber", before.status?.boundTo ?? "?"]).catch(
        () => undefined,
      );
      return r?.spec.claimRef?.uid === before.metadata?.uid && r?.status?.phase === "Bound" ? r : undefined;
    });
    expect(again.status?.numberId).toBe(before.status?.numberId);
    expect(sim.sim.purchases().length).toBe(purchases);
    await waitReady(tenant, "phonenumber", "unrecorded");
  });

  it(
    "senders: the record of a sender deleted with Retain keeps its paid countries, " +
      "and only its namespace takes it back",
    async () => {
      const [owner, other] = [team(2), team(3)];
      const sender = sim.sim.addSender({
        alphaString: `K${Math.random().toString(36).slice(2, 8).toUpperCase()}`,
        workspaceId: WORKSPACE_ID,
      });
      await tenantApply(
        owner,
        doc(owner, "AlphaSender", "kept", {
          alphaString: sender.alphaString,
          countries: ["NL"],
          deletionPolicy: "Retain",
        }),
      );
      await waitReady(owner, "alphasender", "kept");
      const boundTo = (await get<AlphaSender>(owner, "alphasender", "kept")).status?.boundTo;
      await owner.kubectl(["delete", "alphasender", "kept", "-n", owner.namespace, "--timeout=30s"]);
      const released = await getJson<BirdSender>(cluster, ["birdsender", boundTo ?? "?"]);
      expect(released.status?.phase).toBe("Released");
      expect(released.status?.countries?.map((c) => c.countryCode)).toEqual(["NL"]);
      await tenantApply(
        other,
        doc(other, "AlphaSender", "taker", { alphaString: sender.alphaString, countries: ["GB"] }),
      );
      await eventually("refused", async () =>
        (await get<AlphaSender>(other, "alphasender", "taker")).status?.conditions?.find((c) => c.type === "Ready")
          ?.reason === "SenderConflict"
          ? true
          : undefined,
      );
      await tenantApply(
        owner,
        doc(owner, "AlphaSender", "back", { alphaString: sender.alphaString, countries: ["NL"] }),
      );
      await waitReady(owner, "alphasender", "back");
      expect(countryStatus(sender.endpointId, "GB")).not.toBe("active");
    },
  );
});
