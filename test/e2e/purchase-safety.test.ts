import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BirdNumber, PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { testCluster, uniqueName } from "../helpers/cluster.js";
import { apply, createFixture, eventually, getJson, type Fixture } from "../support/fixtures.js";
import { startTestOperator, type TestOperator } from "../helpers/operator.js";
import { OperatorProcess } from "../support/operator-process.js";

const cluster = testCluster();

/** Guardrails and the crash-safe purchase: nothing is bought twice, nothing beyond the limits the platform set. */
describe("purchase guardrails and crash safety", () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, validateResponses: true, provisioningDelayMs: 100 });
  });

  afterAll(async () => {
    expect(sim?.sim.responseViolations() ?? []).toEqual([]);
    await sim?.close();
  });

  const pn = (fixture: Fixture, name: string, spec: Record<string, unknown>): Record<string, unknown> => ({
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "PhoneNumber",
    metadata: { name, namespace: fixture.namespace },
    spec: { workspaceRef: { name: fixture.workspace }, ...spec },
  });
  const list = async (fixture: Fixture): Promise<PhoneNumber[]> =>
    (await getJson<{ items: PhoneNumber[] }>(cluster, ["phonenumbers", "-n", fixture.namespace])).items;
  const purchasesOf = (numberString: string | undefined): number =>
    sim.sim.purchases().filter((p) => p.numberString === numberString).length;

  describe("policy", () => {
    let fixture: Fixture;
    let operator: TestOperator;

    beforeAll(async () => {
      fixture = await createFixture(cluster, sim.url, { policy: { allowedCountries: ["US", "CA"], maxNumbers: 10 } });
      operator = await startTestOperator({
        kubeconfigPath: cluster.kubeconfigPath,
        namespace: fixture.namespace,
        workspaceSelector: fixture.selector,
        overrides: { workers: 8 },
      });
      await cluster.kubectl(["wait", "--for=condition=Ready", `birdworkspace/${fixture.workspace}`, "--timeout=30s"]);
    });

    afterAll(async () => {
      await operator?.stop();
    });

    it("refuses a country the policy forbids, naming the policy", async () => {
      const before = sim.sim.purchases().length;
      await apply(cluster, pn(fixture, "germany", { countryCode: "DE", type: "local" }));
      const ready = await eventually("PolicyViolation", async () => {
        const c = (
          await getJson<PhoneNumber>(cluster, ["pn", "germany", "-n", fixture.namespace])
        ).status?.conditions?.find((x) => x.type === "Ready");
        return c?.reason === "PolicyViolation" ? c : undefined;
      });
      expect(ready.message).toContain("allowedCountries");
      expect(sim.sim.purchases().length).toBe(before);
      await cluster.kubectl(["delete", "pn", "germany", "-n", fixture.namespace]);
    });

    it("buys exactly 10 of 20 numbers racing for a quota of 10", async () => {
      const before = sim.sim.purchases().length;
      await apply(
        cluster,
        ...Array.from({ length: 20 }, (_, i) => pn(fixture, `race-${i}`, { countryCode: "US", type: "local" })),
      );
      const settled = await eventually(
        "20 settled",
        async () => {
          const items = await list(fixture);
          const reasons = items.map((i) => i.status?.conditions?.find((c) => c.type === "Ready")?.reason);
          const ready = reasons.filter((r) => r === "Available").length;
          const quota = reasons.filter((r) => r === "QuotaExceeded").length;
          return ready + quota === 20 ? { ready, quota } : undefined;
        },
        90_000,
      );
      expect(settled).toEqual({ ready: 10, quota: 10 });
      expect(sim.sim.purchases().length - before).toBe(10);
    });
  });

  describe("spend", () => {
    let fixture: Fixture;
    let operator: TestOperator;

    beforeAll(async () => {
      // About four US numbers' worth (the simulator prices them in EUR): the first status write of a new number waits
      // for Bird to provision it, so the policy must count purchases that no status shows yet.
      fixture = await createFixture(cluster, sim.url, {
        policy: { allowedCountries: ["US"], maxMonthlySpend: { currencyCode: "EUR", amount: 45, exponent: -1 } },
      });
      operator = await startTestOperator({
        kubeconfigPath: cluster.kubeconfigPath,
        namespace: fixture.namespace,
        workspaceSelector: fixture.selector,
        overrides: { workers: 8 },
      });
      await cluster.kubectl(["wait", "--for=condition=Ready", `birdworkspace/${fixture.workspace}`, "--timeout=30s"]);
    });

    afterAll(async () => {
      await operator?.stop();
    });

    it("never lets 12 numbers racing for a spend limit together exceed it", async () => {
      const before = sim.sim.purchases().length;
      await apply(
        cluster,
        ...Array.from({ length: 12 }, (_, i) => pn(fixture, `spend-${i}`, { countryCode: "US", type: "local" })),
      );
      const settled = await eventually(
        "12 settled",
        async () => {
          const reasons = (await list(fixture)).map(
            (i) => i.status?.conditions?.find((c) => c.type === "Ready")?.reason,
          );
          const ready = reasons.filter((r) => r === "Available").length;
          const refused = reasons.filter((r) => r === "QuotaExceeded").length;
          return ready + refused === 12 && ready === sim.sim.purchases().length - before
            ? { ready, refused }
            : undefined;
        },
        90_000,
      );
      const bought = sim.sim.purchases().slice(before);
      const spent = bought.reduce((sum, p) => sum + p.price.amount * 10 ** p.price.exponent, 0);
      expect(settled.refused).toBeGreaterThan(0);
      expect(bought.length).toBeGreaterThan(0);
      expect(spent).toBeLessThanOrEqual(4.5);
    });

    it("refuses to buy against a limit in another currency than Bird's prices, saying which to use", async () => {
      const before = sim.sim.purchases().length;
      const limit = { currencyCode: "USD", amount: 1000, exponent: 0 };
      await cluster.kubectl([
        "patch",
        "birdworkspace",
        fixture.workspace,
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { policy: { allowedCountries: ["US"], maxMonthlySpend: limit } } }),
      ]);
      await apply(cluster, pn(fixture, "dollars", { countryCode: "US", type: "local" }));
      const ready = await eventually("QuotaExceeded", async () => {
        const c = (
          await getJson<PhoneNumber>(cluster, ["pn", "dollars", "-n", fixture.namespace])
        ).status?.conditions?.find((x) => x.type === "Ready");
        return c?.reason === "QuotaExceeded" ? c : undefined;
      });
      expect(ready.message).toContain("set the limit in EUR");
      expect(sim.sim.purchases().length).toBe(before);
    });
  });

  describe("crash safety", () => {
    let fixture: Fixture;

    beforeAll(async () => {
      fixture = await createFixture(cluster, sim.url);
    });

    it("a failed bind of the record after a successful buy never leads to a second purchase", async () => {
      // A ValidatingAdmissionPolicy makes the API server refuse exactly the write that binds the record to the number.
      const policy = uniqueName("deny-bind");
      await apply(
        cluster,
        {
          apiVersion: "admissionregistration.k8s.io/v1",
          kind: "ValidatingAdmissionPolicy",
          metadata: { name: policy },
          spec: {
            failurePolicy: "Fail",
            matchConstraints: {
              resourceRules: [
                {
                  apiGroups: ["numbers.birdoperator.dev"],
                  apiVersions: ["v1alpha1"],
                  operations: ["UPDATE"],
                  resources: ["birdnumbers"],
                },
              ],
            },
            validations: [
              {
                expression:
                  `object.spec.workspaceRef.name != "${fixture.workspace}" || !has(object.status.phase) || ` +
                  `object.status.phase != "Bound"`,
                message: "test: binding the record is blocked",
              },
            ],
          },
        },
        {
          apiVersion: "admissionregistration.k8s.io/v1",
          kind: "ValidatingAdmissionPolicyBinding",
          metadata: { name: policy },
          spec: { policyName: policy, validationActions: ["Deny"] },
        },
      );
      await new Promise((r) => setTimeout(r, 2000));
      // The refusal is a 422, a permanent error: it is retried at the resync interval, shortened here to fit the test.
      const overrides = { purchaseGraceMs: 3000, resyncMs: 5000 };
      const operator = await startTestOperator({
        kubeconfigPath: cluster.kubeconfigPath,
        namespace: fixture.namespace,
        workspaceSelector: fixture.selector,
        overrides,
      });
      try {
        const before = sim.sim.purchases().length;
        await apply(cluster, pn(fixture, "blocked-record", { countryCode: "CA", type: "local" }));
        const record = await eventually("a purchase whose record cannot be bound", async () => {
          const uid = (await getJson<PhoneNumber>(cluster, ["pn", "blocked-record", "-n", fixture.namespace])).metadata
            ?.uid;
          const records = (
            await getJson<{ items: BirdNumber[] }>(cluster, [
              "birdnumbers",
              "-l",
              `numbers.birdoperator.dev/claim-uid=${uid}`,
            ])
          ).items;
          const purchasing = records.find((r) => r.status?.phase === "Purchasing");
          return purchasing && purchasesOf(purchasing.spec.numberString) === 1 ? purchasing : undefined;
        });
        // Well past the grace period, with the record still unbindable: it is resolved by lookup, never re-bought.
        await new Promise((r) => setTimeout(r, 6000));
        expect(purchasesOf(record.spec.numberString)).toBe(1);
        expect(sim.sim.purchases().length - before).toBe(1);
        await cluster.kubectl(["delete", "validatingadmissionpolicybinding", policy]);
        await cluster.kubectl([
          "wait",
          "--for=condition=Ready",
          "pn/blocked-record",
          "-n",
          fixture.namespace,
          "--timeout=60s",
        ]);
        const done = await getJson<PhoneNumber>(cluster, ["pn", "blocked-record", "-n", fixture.namespace]);
        expect(done.status?.numberString).toBe(record.spec.numberString);
        expect(done.status?.boundTo).toBe(record.metadata?.name);
        expect(purchasesOf(record.spec.numberString)).toBe(1);
      } finally {
        await operator.stop();
        await cluster.kubectl(["delete", "validatingadmissionpolicy", policy, "--ignore-not-found"]);
      }
    });

    it(
      "a 5xx answer to a buy means nothing was bought: the purchase is tried again at once, " +
        "not after the purchase grace",
      async () => {
        // Grace of 5 minutes (the default): were the 5xx treated as a buy that may have happened, the resource would
        // wait that long in PurchasePending before anything else is bought.
        const overrides = { purchaseGraceMs: 300_000 };
        const operator = await startTestOperator({
          kubeconfigPath: cluster.kubeconfigPath,
          namespace: fixture.namespace,
          workspaceSelector: fixture.selector,
          overrides,
        });
        const buys = (): { status: number }[] =>
          sim.sim
            .calls()
            .recent.filter((c) => c.method === "POST" && c.route === "/workspaces/{workspaceId}/numbers-long-code");
        try {
          const before = buys().length;
          sim.sim.setFaults({ errorRate: 1, routes: ["buyLongCodeNumbers"] });
          await apply(cluster, pn(fixture, "server-error", { countryCode: "CA", type: "local" }));
          await eventually("two buys answered 5xx", async () =>
            buys()
              .slice(before)
              .filter((c) => c.status >= 500).length >= 2
              ? true
              : undefined,
          );
          sim.sim.setFaults({});
          const recovered = Date.now();
          await cluster.kubectl([
            "wait",
            "--for=condition=Ready",
            "pn/server-error",
            "-n",
            fixture.namespace,
            "--timeout=60s",
          ]);
          expect(Date.now() - recovered).toBeLessThan(30_000);
          const bought = (await getJson<PhoneNumber>(cluster, ["pn", "server-error", "-n", fixture.namespace])).status
            ?.numberString;
          expect(purchasesOf(bought)).toBe(1);
          // Every answered buy before the one that succeeded was a 5xx:
          // nothing was bought twice, nothing left Purchasing.
          const records = (await getJson<{ items: BirdNumber[] }>(cluster, ["birdnumbers"])).items.filter(
            (r) => r.spec.claimRef?.name === "server-error",
          );
          expect(records.map((r) => r.status?.phase)).toEqual(["Bound"]);
        } finally {
          sim.sim.setFaults({});
          await operator.stop();
        }
      },
    );

    it("an operator killed right after the buy adopts the number on restart instead of buying again", async () => {
      const args = [
        `--kubeconfig=${cluster.kubeconfigPath}`,
        `--namespaces=${fixture.namespace}`,
        `--operator-namespace=${fixture.namespace}`,
        `--workspace-selector=${fixture.selector}`,
        "--no-leader-elect",
        "--purchase-grace=3s",
      ];
      const first = new OperatorProcess({ args });
      await first.started;
      const before = sim.sim.purchases().length;
      await apply(cluster, pn(fixture, "killed", { countryCode: "GB", type: "mobile" }));
      // Kill the moment Bird has processed the purchase: the process may not have recorded the id yet.
      await new Promise<void>((resolve) => {
        const poll = (): void => {
          if (sim.sim.purchases().length > before) resolve();
          else setImmediate(poll);
        };
        poll();
      });
      await first.kill("SIGKILL");
      const second = new OperatorProcess({ args });
      try {
        await second.started;
        await cluster.kubectl(["wait", "--for=condition=Ready", "pn/killed", "-n", fixture.namespace, "--timeout=60s"]);
        const done = await getJson<PhoneNumber>(cluster, ["pn", "killed", "-n", fixture.namespace]);
        expect(sim.sim.purchases().length - before).toBe(1);
        expect(purchasesOf(done.status?.numberString)).toBe(1);
        expect(sim.sim.purchases().at(-1)?.numberId).toBe(done.status?.numberId);
      } finally {
        await second.kill("SIGTERM");
      }
    });
  });
});
