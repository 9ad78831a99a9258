import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AlphaSender, BirdNumber, BirdSender, PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { Annotation, FINALIZER } from "../../src/api/v1alpha1/conditions.js";
import { startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { testCluster, uniqueName } from "../helpers/cluster.js";
import { ACCESS_KEY, apply, eventually, getJson, ORGANIZATION_ID, WORKSPACE_ID } from "../support/fixtures.js";
import { startTestOperator, type TestOperator } from "../helpers/operator.js";
import { createTenant, type Tenant } from "../helpers/tenants.js";

const cluster = testCluster();
const API = "numbers.birdoperator.dev/v1alpha1";
type Doc = Record<string, unknown>;
type Ready = { type?: string; status: string; reason: string; message: string };

/**
 * The attacks of a hostile or careless tenant, each tried by a real identity bound only to the aggregated `edit` role
 * in its own namespace, on the real API server, and judged by outcome in the simulator: the victim's subscription and
 * destinations are intact, purchases and monthly spend stay within the caps.
 */
describe("tenancy: no tenant can release, steer or spend what another owns", () => {
  let sim: RunningSimulator;
  let capSim: RunningSimulator;
  let operator: TestOperator;
  let alice: Tenant;
  let bob: Tenant;
  let eve: Tenant;
  let dave: Tenant;
  const operatorNamespace = uniqueName("op");
  const restored = uniqueName("restored");
  const ws = uniqueName("ws");
  const capWs = uniqueName("ws-cap");
  const label = `bird-operator-test=${ws}`;
  const allowLabel = { key: "bird-tenancy-allowed", value: ws };

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, validateResponses: true, provisioningDelayMs: 100 });
    capSim = await startSimulator({ port: 0, validateResponses: true, provisioningDelayMs: 100 });
    [alice, bob, eve, dave] = await Promise.all([
      createTenant(cluster, { namespace: uniqueName("team-a") }),
      createTenant(cluster, { namespace: uniqueName("team-b") }),
      createTenant(cluster, { namespace: uniqueName("outsider") }),
      createTenant(cluster, { namespace: uniqueName("team-d") }),
    ]);
    await cluster.kubectl(["label", "namespace", dave.namespace, `${allowLabel.key}=${allowLabel.value}`]);
    await apply(
      cluster,
      { apiVersion: "v1", kind: "Namespace", metadata: { name: operatorNamespace } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: restored } },
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "bird-access-key", namespace: operatorNamespace },
        stringData: { accessKey: ACCESS_KEY },
      },
      workspaceDoc(ws, sim.url, {
        allowedNamespaces: {
          names: [alice.namespace, bob.namespace, restored],
          selector: { matchLabels: { [allowLabel.key]: allowLabel.value } },
        },
      }),
      workspaceDoc(capWs, capSim.url, {
        allowedNamespaces: { names: [alice.namespace] },
        policy: { allowedCountries: ["US"], maxMonthlySpend: { currencyCode: "EUR", amount: 3, exponent: 0 } },
      }),
    );
    operator = await startTestOperator({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: operatorNamespace,
      workspaceSelector: label,
      overrides: {
        namespaces: [alice.namespace, bob.namespace, eve.namespace, dave.namespace, restored, operatorNamespace],
        resyncMs: 5000,
        purchaseGraceMs: 3000,
      },
    });
    await cluster.kubectl([
      "wait",
      "--for=condition=Ready",
      `birdworkspace/${ws}`,
      `birdworkspace/${capWs}`,
      "--timeout=30s",
    ]);
  });

  afterAll(async () => {
    await operator?.stop();
    expect(sim?.sim.responseViolations() ?? []).toEqual([]);
    await sim?.close();
    await capSim?.close();
  });

  function workspaceDoc(name: string, endpoint: string, spec: Doc): Doc {
    return {
      apiVersion: API,
      kind: "BirdWorkspace",
      metadata: { name, labels: { "bird-operator-test": ws } },
      spec: {
        organizationId: ORGANIZATION_ID,
        workspaceId: WORKSPACE_ID,
        endpoint,
        accessKeySecretRef: { namespace: operatorNamespace, name: "bird-access-key" },
        ...spec,
      },
    };
  }
  const pn = (tenant: Tenant | string, name: string, spec: Doc, workspace = ws): Doc => ({
    apiVersion: API,
    kind: "PhoneNumber",
    metadata: { name, namespace: typeof tenant === "string" ? tenant : tenant.namespace },
    spec: { workspaceRef: { name: workspace }, ...spec },
  });
  const alpha = (tenant: Tenant, name: string, spec: Doc): Doc => ({
    apiVersion: API,
    kind: "AlphaSender",
    metadata: { name, namespace: tenant.namespace },
    spec: { workspaceRef: { name: ws }, ...spec },
  });
  const get = <T = PhoneNumber>(namespace: string, name: string, kind = "phonenumber"): Promise<T> =>
    getJson<T>(cluster, [kind, name, "-n", namespace]);
  const ready = async (namespace: string, name: string, kind = "phonenumber"): Promise<Ready | undefined> =>
    (await get<PhoneNumber | AlphaSender>(namespace, name, kind)).status?.conditions?.find((c) => c.type === "Ready");
  const waitReason = (
    namespace: string,
    name: string,
    reason: string,
    kind = "phonenumber",
    timeoutMs = 30_000,
  ): Promise<Ready> =>
    eventually(
      `${kind} ${namespace}/${name} Ready reason ${reason}`,
      async () => {
        const c = await ready(namespace, name, kind);
        return c?.reason === reason ? c : undefined;
      },
      timeoutMs,
    );
  const waitReady = (namespace: string, name: string, kind = "phonenumber"): Promise<unknown> =>
    cluster.kubectl(["wait", "--for=condition=Ready", `${kind}/${name}`, "-n", namespace, "--timeout=60s"]);
  const gone = (tenant: Tenant, kind: string, name: string): Promise<unknown> =>
    tenant.kubectl(["delete", kind, name, "-n", tenant.namespace, "--timeout=60s"]);
  const numberRecords = async (): Promise<BirdNumber[]> =>
    (await getJson<{ items: BirdNumber[] }>(cluster, ["birdnumbers"])).items.filter(
      (r) => r.spec.workspaceRef.name === ws,
    );
  const heldBy = async (uid: string | undefined): Promise<BirdNumber[]> =>
    (await numberRecords()).filter((r) => r.spec.claimRef?.uid === uid);
  /** Bird writes on one endpoint: destination changes and cancellations (what steering or releasing a number takes). */
  const writesOn = (running: RunningSimulator, endpointId: string): string[] =>
    running.sim
      .calls()
      .recent.filter(
        (c) => c.method === "POST" && c.path.includes(`/endpoints/${endpointId}/`) && !c.path.includes("validate=true"),
      )
      .map((c) => c.route);
  const mainStatus = (running: RunningSimulator, endpointId: string): string | undefined =>
    running.sim.state.subscriptions(running.sim.state.anyEndpoint(endpointId)).results.find((s) => s.name === "main")
      ?.status;
  const subscriptionStatus = (endpointId: string, country: string): string | undefined =>
    sim.sim.state.subscriptions(sim.sim.state.anyEndpoint(endpointId)).results.find((s) => s.name === country)?.status;
  const purchasesOf = (numberString: string | undefined): number =>
    sim.sim.purchases().filter((p) => p.numberString === numberString).length;
  const settle = (ms = 2000): Promise<void> => new Promise((r) => setTimeout(r, ms));

  /** A number of alice's, Ready and Retain (so no honest deletion of hers would cancel it either). */
  async function victim(name: string, spec: Doc = {}): Promise<PhoneNumber> {
    await alice.kubectl(["apply", "-f", "-"], {
      input: JSON.stringify(pn(alice, name, { countryCode: "US", type: "local", deletionPolicy: "Retain", ...spec })),
    });
    await waitReady(alice.namespace, name);
    return get(alice.namespace, name);
  }

  async function expectIntact(victimPn: PhoneNumber): Promise<void> {
    const endpointId = victimPn.status?.endpointId ?? "";
    expect(writesOn(sim, endpointId).filter((r) => r.endsWith("/cancel"))).toEqual([]);
    expect(mainStatus(sim, endpointId)).toBe("active");
    expect((await ready(alice.namespace, victimPn.metadata?.name ?? ""))?.status).toBe("True");
    const records = await heldBy(victimPn.metadata?.uid);
    expect(records.map((r) => [r.spec.numberString, r.status?.phase])).toEqual([
      [victimPn.status?.numberString, "Bound"],
    ]);
  }

  it(
    "an object in a namespace the workspace does not allow, with our finalizer and a forged purchase intent, " +
      "cancels nothing",
    async () => {
      const target = await victim("victim-forged");
      const forged = {
        ...pn(eve, "forged", { numberString: target.status?.numberString, deletionPolicy: "Delete" }),
        metadata: {
          name: "forged",
          namespace: eve.namespace,
          finalizers: [FINALIZER],
          annotations: {
            [Annotation.legacyPurchaseIntent]: JSON.stringify({
              stockItemId: "x",
              numberString: target.status?.numberString,
              startedAt: "2020-01-01T00:00:00Z",
            }),
            [Annotation.legacyNumberId]: target.status?.numberId,
          },
        },
      };
      await eve.kubectl(["apply", "-f", "-"], { input: JSON.stringify(forged) });
      const refused = await waitReason(eve.namespace, "forged", "Forbidden");
      expect(refused.message).toContain("allowedNamespaces");
      const got = await get(eve.namespace, "forged");
      expect(await heldBy(got.metadata?.uid)).toEqual([]);
      await gone(eve, "pn", "forged");
      await settle();
      await expectIntact(target);
    },
  );

  it(
    "copies of another team's object (annotations, spec, destinations) own nothing: NumberConflict, " +
      "no Bird write, deleting them cancels nothing",
    async () => {
      const target = await victim("victim-copied", { destinations: [{ capability: "sms", countryCodes: ["US"] }] });
      const endpointId = target.status?.endpointId ?? "";
      const writesBefore = writesOn(sim, endpointId).length;
      const copy = (tenant: Tenant, name: string): Doc => ({
        ...pn(tenant, name, {
          ...target.spec,
          destinations: [{ capability: "sms", countryCodes: ["US", "CA", "GB"] }],
          deletionPolicy: "Delete",
        }),
        metadata: {
          name,
          namespace: tenant.namespace,
          annotations: { ...target.metadata?.annotations, [Annotation.legacyNumberId]: target.status?.numberId },
        },
      });
      // The copied annotation names the victim's number:
      // refused (it looks like a copy), in another namespace or the same.
      await bob.kubectl(["apply", "-f", "-"], { input: JSON.stringify(copy(bob, "copy")) });
      await alice.kubectl(["apply", "-f", "-"], { input: JSON.stringify(copy(alice, "same-namespace-copy")) });
      // A copied manifest that was pinned names the number in spec.
      await bob.kubectl(["apply", "-f", "-"], {
        input: JSON.stringify(
          pn(bob, "pinned-copy", {
            numberString: target.status?.numberString,
            destinations: [{ capability: "sms", countryCodes: ["GB"] }],
            deletionPolicy: "Delete",
          }),
        ),
      });
      for (const [tenant, name] of [
        [bob, "copy"],
        [bob, "pinned-copy"],
        [alice, "same-namespace-copy"],
      ] as const) {
        const conflict = await waitReason(tenant.namespace, name, "NumberConflict");
        expect(conflict.message).toContain(target.status?.numberString ?? "?");
        expect(await heldBy((await get(tenant.namespace, name)).metadata?.uid)).toEqual([]);
      }
      await settle();
      expect(writesOn(sim, endpointId).length).toBe(writesBefore);
      await Promise.all([
        gone(bob, "pn", "copy"),
        gone(bob, "pn", "pinned-copy"),
        gone(alice, "pn", "same-namespace-copy"),
      ]);
      await settle();
      await expectIntact(target);
    },
  );

  it(
    "a restore of a namespace's manifests, " + "with annotations and status, into a new namespace owns nothing",
    async () => {
      // Pinned, as the README asks
      // (an unpinned manifest restored elsewhere may buy a number of its own: never this one).
      const pinned = async (name: string, spec: Doc = {}): Promise<PhoneNumber> => {
        const first = await victim(name, spec);
        await alice.kubectl([
          "patch",
          "pn",
          name,
          "-n",
          alice.namespace,
          "--type=merge",
          "-p",
          JSON.stringify({ spec: { numberString: first.status?.numberString } }),
        ]);
        await waitReady(alice.namespace, name);
        return get(alice.namespace, name);
      };
      const originals = [
        await pinned("victim-restored-1"),
        await pinned("victim-restored-2", { destinations: [{ capability: "sms", countryCodes: ["US"] }] }),
      ];
      for (const original of originals) {
        const name = original.metadata?.name ?? "";
        await apply(cluster, {
          ...pn(restored, name, { ...original.spec, deletionPolicy: "Delete" }),
          metadata: { name, namespace: restored, annotations: original.metadata?.annotations, finalizers: [FINALIZER] },
        });
        // What a backup tool restores through the status subresource: the original's whole status.
        await cluster.kubectl([
          "patch",
          "pn",
          name,
          "-n",
          restored,
          "--subresource=status",
          "--type=merge",
          "-p",
          JSON.stringify({ status: original.status }),
        ]);
      }
      for (const original of originals) {
        const name = original.metadata?.name ?? "";
        const uid = (await get(restored, name)).metadata?.uid;
        await eventually(`${name} restored refused`, async () => {
          const c = await ready(restored, name);
          return c?.reason === "NumberConflict" ? c : undefined;
        });
        expect(await heldBy(uid)).toEqual([]);
      }
      await cluster.kubectl(["delete", "pn", "--all", "-n", restored, "--timeout=60s"]);
      await settle();
      for (const original of originals) await expectIntact(original);
    },
  );

  it(
    "10 pairs of teams adopting the same numbers at once: exactly one owner each, " +
      "and the losers' deletion releases nothing",
    async () => {
      const numbers = sim.sim.addNumbers({ workspaceId: WORKSPACE_ID, countryCode: "NL", type: "mobile", count: 10 });
      const docs = (tenant: Tenant): Doc[] =>
        numbers.map((n, i) => pn(tenant, `race-${i}`, { numberString: n.numberString, deletionPolicy: "Delete" }));
      await Promise.all([
        alice.kubectl(["apply", "-f", "-"], {
          input: JSON.stringify({ apiVersion: "v1", kind: "List", items: docs(alice) }),
        }),
        bob.kubectl(["apply", "-f", "-"], {
          input: JSON.stringify({ apiVersion: "v1", kind: "List", items: docs(bob) }),
        }),
      ]);
      const outcome = await eventually(
        "every pair settled",
        async () => {
          const pairs = await Promise.all(
            numbers.map(
              async (_, i) =>
                [await ready(alice.namespace, `race-${i}`), await ready(bob.namespace, `race-${i}`)] as const,
            ),
          );
          const reasons = pairs.map((pair) =>
            pair
              .map((c) => c?.reason ?? "none")
              .sort()
              .join("+"),
          );
          return reasons.every((r) => r === "Available+NumberConflict") ? pairs : undefined;
        },
        60_000,
      );
      const losers = outcome.map(([a], i) =>
        a?.reason === "NumberConflict" ? ([alice, `race-${i}`] as const) : ([bob, `race-${i}`] as const),
      );
      for (const [i, number] of numbers.entries()) {
        const [winner] = losers[i]?.[0] === alice ? [bob] : [alice];
        const uid = (await get(winner.namespace, `race-${i}`)).metadata?.uid;
        expect((await heldBy(uid)).map((r) => r.spec.numberString)).toEqual([number.numberString]);
      }
      await Promise.all(losers.map(([tenant, name]) => gone(tenant, "pn", name)));
      await settle();
      for (const number of numbers) {
        expect(mainStatus(sim, number.endpointId)).toBe("active");
        expect(writesOn(sim, number.endpointId)).toEqual([]);
      }
    },
  );

  it(
    "an AlphaSender in a forbidden namespace gets no finalizer, squats nothing, " +
      "and its deletion deactivates nothing",
    async () => {
      const sender = sim.sim.addSender({
        alphaString: `T${Math.random().toString(36).slice(2, 8).toUpperCase()}`,
        workspaceId: WORKSPACE_ID,
      });
      await eve.kubectl(["apply", "-f", "-"], {
        input: JSON.stringify(
          alpha(eve, "squat", { alphaString: sender.alphaString, countries: ["NL"], deletionPolicy: "Delete" }),
        ),
      });
      await waitReason(eve.namespace, "squat", "Forbidden", "alphasender");
      expect((await get<AlphaSender>(eve.namespace, "squat", "alphasender")).metadata?.finalizers ?? []).toEqual([]);
      await eve.kubectl([
        "patch",
        "alphasender",
        "squat",
        "-n",
        eve.namespace,
        "--type=merge",
        "-p",
        JSON.stringify({ metadata: { finalizers: [FINALIZER] } }),
      ]);
      await alice.kubectl(["apply", "-f", "-"], {
        input: JSON.stringify(
          alpha(alice, "owner", { alphaString: sender.alphaString, countries: ["NL", "GB"], deletionPolicy: "Retain" }),
        ),
      });
      await waitReady(alice.namespace, "owner", "alphasender");
      await gone(eve, "alphasender", "squat");
      await settle();
      expect(
        writesOn(sim, sender.endpointId).filter((r) => r.endsWith("/deactivate") || r.endsWith("/cancel")),
      ).toEqual([]);
      expect([subscriptionStatus(sender.endpointId, "NL"), subscriptionStatus(sender.endpointId, "GB")]).toEqual([
        "active",
        "active",
      ]);
      expect((await ready(alice.namespace, "owner", "alphasender"))?.status).toBe("True");
    },
  );

  it(
    "deleting Retain numbers and creating new ones cannot exceed maxMonthlySpend or maxNumbers: " +
      "Released numbers still count",
    async () => {
      const outcomes: string[] = [];
      for (let i = 0; i < 5; i++) {
        const name = `churn-${i}`;
        await alice.kubectl(["apply", "-f", "-"], {
          input: JSON.stringify(pn(alice, name, { countryCode: "US", type: "local", deletionPolicy: "Retain" }, capWs)),
        });
        const c = await eventually(`${name} settled`, async () => {
          const r = await ready(alice.namespace, name);
          return r?.reason === "Available" || r?.reason === "QuotaExceeded" ? r : undefined;
        });
        outcomes.push(c.reason);
        await gone(alice, "pn", name);
      }
      expect(outcomes).toEqual(["Available", "Available", "Available", "QuotaExceeded", "QuotaExceeded"]);
      const paid = capSim.sim.purchases().filter((p) => mainStatus(capSim, p.numberId) === "active");
      expect(paid.reduce((sum, p) => sum + p.price.amount * 10 ** p.price.exponent, 0)).toBeLessThanOrEqual(3);
      const released = (await getJson<{ items: BirdNumber[] }>(cluster, ["birdnumbers"])).items.filter(
        (r) => r.spec.workspaceRef.name === capWs,
      );
      expect(released.map((r) => r.status?.phase)).toEqual(["Released", "Released", "Released"]);

      // The same for the count: three Released numbers leave one of four.
      await cluster.kubectl([
        "patch",
        "birdworkspace",
        capWs,
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { policy: { allowedCountries: ["US"], maxMonthlySpend: null, maxNumbers: 4 } } }),
      ]);
      const counted: string[] = [];
      for (let i = 5; i < 7; i++) {
        await alice.kubectl(["apply", "-f", "-"], {
          input: JSON.stringify(
            pn(alice, `churn-${i}`, { countryCode: "US", type: "local", deletionPolicy: "Retain" }, capWs),
          ),
        });
        counted.push(
          (
            await eventually(`churn-${i} settled`, async () => {
              const r = await ready(alice.namespace, `churn-${i}`);
              return r?.reason === "Available" || r?.reason === "QuotaExceeded" ? r : undefined;
            })
          ).reason,
        );
        await gone(alice, "pn", `churn-${i}`);
      }
      expect(counted).toEqual(["Available", "QuotaExceeded"]);
      expect(capSim.sim.purchases()).toHaveLength(4);
    },
  );

  it("a second BirdWorkspace naming the same Bird workspace is refused, and nothing is bought through it", async () => {
    const duplicate = uniqueName("ws-dup");
    await apply(cluster, workspaceDoc(duplicate, sim.url, { allowedNamespaces: { names: [alice.namespace] } }));
    const refused = await eventually("the duplicate refused", async () => {
      const got = await getJson<{ status?: { conditions?: Ready[] } }>(cluster, ["birdworkspace", duplicate]);
      return got.status?.conditions?.find((c) => c.type === "Ready" && c.reason === "DuplicateWorkspace");
    });
    expect(refused.message).toContain(`"${ws}"`);
    const before = sim.sim.purchases().length;
    await alice.kubectl(["apply", "-f", "-"], {
      input: JSON.stringify(pn(alice, "via-duplicate", { countryCode: "US", type: "local" }, duplicate)),
    });
    const c = await eventually("not bought", async () => {
      const r = await ready(alice.namespace, "via-duplicate");
      return r?.reason === "DuplicateWorkspace" || r?.reason === "WorkspaceNotReady" ? r : undefined;
    });
    expect(c.message).toContain(ws);
    await settle();
    expect(sim.sim.purchases().length).toBe(before);
    await gone(alice, "pn", "via-duplicate");
    await cluster.kubectl(["delete", "birdworkspace", duplicate, "--timeout=30s"]);
  });

  it("the platform team pre-assigns a sender and a number to a namespace: nobody else can take them", async () => {
    const sender = sim.sim.addSender({
      alphaString: `P${Math.random().toString(36).slice(2, 8).toUpperCase()}`,
      workspaceId: WORKSPACE_ID,
    });
    const [number] = sim.sim.addNumbers({ workspaceId: WORKSPACE_ID, countryCode: "NL", type: "mobile", count: 1 });
    await apply(
      cluster,
      {
        apiVersion: API,
        kind: "BirdSender",
        metadata: { name: `${ws}.${sender.id}` },
        spec: { workspaceRef: { name: ws }, alphaNumberId: sender.id, claimRef: { namespace: bob.namespace } },
      },
      {
        apiVersion: API,
        kind: "BirdNumber",
        metadata: { name: `${ws}.${number?.numberString.slice(1)}` },
        spec: {
          workspaceRef: { name: ws },
          numberString: number?.numberString,
          claimRef: { namespace: alice.namespace },
        },
      },
    );
    await alice.kubectl(["apply", "-f", "-"], {
      input: JSON.stringify(alpha(alice, "not-mine", { alphaString: sender.alphaString, countries: ["NL"] })),
    });
    await bob.kubectl(["apply", "-f", "-"], {
      input: JSON.stringify(pn(bob, "not-mine", { numberString: number?.numberString })),
    });
    expect((await waitReason(alice.namespace, "not-mine", "SenderConflict", "alphasender")).message).toContain(
      `reserved for namespace "${bob.namespace}"`,
    );
    expect((await waitReason(bob.namespace, "not-mine", "NumberConflict")).message).toContain(
      `reserved for namespace "${alice.namespace}"`,
    );
    await bob.kubectl(["apply", "-f", "-"], {
      input: JSON.stringify(alpha(bob, "mine", { alphaString: sender.alphaString, countries: ["NL"] })),
    });
    await alice.kubectl(["apply", "-f", "-"], {
      input: JSON.stringify(pn(alice, "mine", { numberString: number?.numberString })),
    });
    await waitReady(bob.namespace, "mine", "alphasender");
    await waitReady(alice.namespace, "mine");
    const senderRecord = await getJson<BirdSender>(cluster, ["birdsender", `${ws}.${sender.id}`]);
    expect(senderRecord.spec.claimRef?.uid).toBe(
      (await get<AlphaSender>(bob.namespace, "mine", "alphasender")).metadata?.uid,
    );
    expect(purchasesOf(number?.numberString)).toBe(0);
  });

  it(
    "honest Delete cancels; honest Retain keeps the number Released, " +
      "re-bound only from its namespace or after the platform team frees it",
    async () => {
      await alice.kubectl(["apply", "-f", "-"], {
        input: JSON.stringify(
          pn(alice, "honest-delete", { countryCode: "US", type: "local", deletionPolicy: "Delete" }),
        ),
      });
      await waitReady(alice.namespace, "honest-delete");
      const deleted = await get(alice.namespace, "honest-delete");
      await gone(alice, "pn", "honest-delete");
      expect(mainStatus(sim, deleted.status?.endpointId ?? "")).not.toBe("active");
      expect(await heldBy(deleted.metadata?.uid)).toEqual([]);

      const kept = await victim("honest-retain");
      await gone(alice, "pn", "honest-retain");
      const recordName = kept.status?.boundTo ?? "";
      const record = await getJson<BirdNumber>(cluster, ["birdnumber", recordName]);
      expect(record.status?.phase).toBe("Released");
      expect(record.spec.claimRef?.namespace).toBe(alice.namespace);
      expect(mainStatus(sim, kept.status?.endpointId ?? "")).toBe("active");

      await bob.kubectl(["apply", "-f", "-"], {
        input: JSON.stringify(pn(bob, "take-released", { numberString: kept.status?.numberString })),
      });
      expect((await waitReason(bob.namespace, "take-released", "NumberConflict")).message).toContain(
        `released by namespace "${alice.namespace}"`,
      );
      await alice.kubectl(["apply", "-f", "-"], {
        input: JSON.stringify(
          pn(alice, "take-back", { numberString: kept.status?.numberString, deletionPolicy: "Retain" }),
        ),
      });
      await waitReady(alice.namespace, "take-back");
      expect(purchasesOf(kept.status?.numberString)).toBe(1);
      await gone(alice, "pn", "take-back");
      await cluster.kubectl([
        "patch",
        "birdnumber",
        recordName,
        "--type=json",
        "-p",
        JSON.stringify([{ op: "remove", path: "/spec/claimRef" }]),
      ]);
      await waitReady(bob.namespace, "take-released");
      expect(purchasesOf(kept.status?.numberString)).toBe(1);
      await gone(bob, "pn", "take-released");
    },
  );

  it(
    "a namespace that loses the label allowing it is refused at once and keeps its number; " +
      "deleting then releases nothing",
    async () => {
      await dave.kubectl(["apply", "-f", "-"], {
        input: JSON.stringify(pn(dave, "labelled", { countryCode: "US", type: "local", deletionPolicy: "Delete" })),
      });
      await waitReady(dave.namespace, "labelled");
      const held = await get(dave.namespace, "labelled");
      // A reconcile right now (a metadata change), so that the next one by resync is at least 4 s away: only the
      // namespace watch can make the refusal come sooner.
      await dave.kubectl(["annotate", "pn", "labelled", "-n", dave.namespace, "touched=1"]);
      await settle(500);
      await cluster.kubectl(["label", "namespace", dave.namespace, `${allowLabel.key}-`]);
      const refused = await waitReason(dave.namespace, "labelled", "Forbidden", "phonenumber", 3000);
      expect(refused.message).toContain("still holds");
      await gone(dave, "pn", "labelled");
      expect(mainStatus(sim, held.status?.endpointId ?? "")).toBe("active");
      expect(writesOn(sim, held.status?.endpointId ?? "").filter((r) => r.endsWith("/cancel"))).toEqual([]);
      expect((await getJson<BirdNumber>(cluster, ["birdnumber", held.status?.boundTo ?? ""])).status?.phase).toBe(
        "Released",
      );
    },
  );

  it("NumberLost: deleting the PhoneNumber cancels nothing, and applying it again gets a new number", async () => {
    await alice.kubectl(["apply", "-f", "-"], {
      input: JSON.stringify(pn(alice, "lost", { countryCode: "US", type: "local", deletionPolicy: "Delete" })),
    });
    await waitReady(alice.namespace, "lost");
    const before = await get(alice.namespace, "lost");
    sim.sim.deleteNumber(before.status?.numberId ?? "");
    const lost = await waitReason(alice.namespace, "lost", "NumberLost", "phonenumber", 30_000);
    expect(lost.message).toContain("Delete this PhoneNumber");
    await gone(alice, "pn", "lost");
    await alice.kubectl(["apply", "-f", "-"], {
      input: JSON.stringify(pn(alice, "lost", { countryCode: "US", type: "local", deletionPolicy: "Delete" })),
    });
    await waitReady(alice.namespace, "lost");
    expect((await get(alice.namespace, "lost")).status?.numberString).not.toBe(before.status?.numberString);
  });

  it("a tenant may write its PhoneNumbers and nothing that decides ownership", async () => {
    const may = async (...args: string[]): Promise<string> =>
      (await alice.kubectl(["auth", "can-i", ...args], { allowFailure: true })).stdout.trim();
    expect(await may("create", "phonenumbers.numbers.birdoperator.dev", "-n", alice.namespace)).toBe("yes");
    expect(await may("create", "birdnumbers.numbers.birdoperator.dev")).toBe("no");
    expect(await may("update", "birdsenders.numbers.birdoperator.dev")).toBe("no");
    expect(await may("create", "birdworkspaces.numbers.birdoperator.dev")).toBe("no");
    expect(
      await may("patch", "phonenumbers.numbers.birdoperator.dev", "-n", alice.namespace, "--subresource=status"),
    ).toBe("no");
    expect(await may("create", "phonenumbers.numbers.birdoperator.dev", "-n", bob.namespace)).toBe("no");
  });
});
