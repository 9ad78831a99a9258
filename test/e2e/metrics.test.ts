/**
 * The operator's /metrics during a real run (API server, simulator, two in-process replicas electing a leader): every
 * metric the alerts and the dashboard read has samples, the per-resource and workspace series match what kubectl
 * shows and follow deletions, the counters match what happened in Bird, and only the leader exports the per-resource
 * and workspace series.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AlphaSender, BirdWorkspace, PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { formatMoney, toNumber } from "../../src/bird/money.js";
import { startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { testCluster, uniqueName } from "../helpers/cluster.js";
import { apply, createFixture, eventually, getJson, type Fixture } from "../support/fixtures.js";
import { monitoredMetricNames } from "../helpers/monitoring.js";
import { startTestOperator, type TestOperator } from "../helpers/operator.js";
import { exportedFamilies, parseExposition, select, type Sample } from "../helpers/scrape.js";

const cluster = testCluster();
const STOCK_ROUTE = "/organizations/{organizationId}/numbers-stock-items";

describe("metrics of a running operator", () => {
  let sim: RunningSimulator;
  let fixture: Fixture;
  const operators: TestOperator[] = [];
  let leader: TestOperator;
  let standby: TestOperator;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, provisioningDelayMs: 100 });
    fixture = await createFixture(cluster, sim.url, {
      policy: {
        maxNumbers: 2,
        maxMonthlySpend: { currencyCode: "EUR", amount: 100, exponent: 0 },
        allowedCountries: ["US", "NL", "GB", "DE"],
      },
    });
    const lease = uniqueName("lease");
    const start = async (identity: string): Promise<TestOperator> => {
      const leaderElection = {
        enabled: true,
        leaseName: lease,
        leaseNamespace: fixture.namespace,
        identity,
        leaseDurationMs: 4000,
        renewDeadlineMs: 3000,
        retryPeriodMs: 500,
      };
      const operator = await startTestOperator({
        kubeconfigPath: cluster.kubeconfigPath,
        namespace: fixture.namespace,
        workspaceSelector: fixture.selector,
        overrides: { resyncMs: 5000, leaderElection },
      });
      operators.push(operator);
      return operator;
    };
    leader = await start("replica-a");
    await eventually("a leader", async () => (leader.manager.isLeading() ? true : undefined));
    standby = await start("replica-b");
    await cluster.kubectl(["wait", "--for=condition=Ready", `birdworkspace/${fixture.workspace}`, "--timeout=30s"]);
  });

  afterAll(async () => {
    for (const operator of operators) await operator.stop();
    await sim?.close();
  });

  const scrape = async (operator: TestOperator): Promise<Sample[]> =>
    parseExposition(await (await fetch(`http://${operator.manager.addresses?.metrics}/metrics`)).text());
  const value = (samples: Sample[], name: string, labels: Record<string, string>): number | undefined => {
    const found = select(samples, name, labels);
    return found.length ? found.reduce((sum, s) => sum + s.value, 0) : undefined;
  };
  const pn = (name: string): Record<string, unknown> => ({
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "PhoneNumber",
    metadata: { name, namespace: fixture.namespace },
    spec: { workspaceRef: { name: fixture.workspace }, countryCode: "US", type: "local", deletionPolicy: "Delete" },
  });
  const readyReason = (kind: string, name: string): Promise<string> =>
    cluster
      .kubectl([
        "get",
        kind,
        name,
        "-n",
        fixture.namespace,
        "-o",
        'jsonpath={.status.conditions[?(@.type=="Ready")].reason}',
      ])
      .then((r) => r.stdout);
  const waitReason = (kind: string, name: string, reason: string): Promise<string> =>
    eventually(
      `${kind} ${name} Ready reason ${reason}`,
      async () => ((await readyReason(kind, name)) === reason ? reason : undefined),
      60_000,
    );
  const ws = (labels: Record<string, string> = {}): Record<string, string> => ({
    workspace: fixture.workspace,
    ...labels,
  });

  it(
    "exports every metric the alerts and the dashboard read, " + "with values that match the cluster and Bird",
    async () => {
      await apply(cluster, pn("first"), pn("second"));
      await waitReason("pn", "first", "Available");
      await waitReason("pn", "second", "Available");
      // Bird fails stock searches (5xx, after a burst of 429s) while a third number is asked for: a reconcile error.
      sim.sim.setFaults({ errorRate: 1, routes: [STOCK_ROUTE], rateLimitBurst: { count: 2 } });
      await apply(cluster, pn("third"));
      await eventually(
        "a failed phonenumber reconcile",
        async () =>
          (value(await scrape(leader), "controller_runtime_reconcile_errors_total", { controller: "phonenumber" }) ??
            0) > 0
            ? true
            : undefined,
        60_000,
      );
      sim.sim.setFaults({});
      // With Bird back, the third is refused by the workspace's maxNumbers.
      await waitReason("pn", "third", "QuotaExceeded");
      await apply(cluster, {
        apiVersion: "numbers.birdoperator.dev/v1alpha1",
        kind: "AlphaSender",
        metadata: { name: "acme", namespace: fixture.namespace },
        spec: {
          workspaceRef: { name: fixture.workspace },
          alphaString: "ACME",
          countries: ["NL", "GB", "DE", "BE"],
          deletionPolicy: "Retain",
        },
      });
      await waitReason("alphasender", "acme", "PolicyViolation");

      const samples = await eventually("workspace usage with the sender's countries", async () => {
        const got = await scrape(leader);
        return value(got, "bird_operator_workspace_sender_countries", ws()) === 3 ? got : undefined;
      });
      const exported = exportedFamilies(samples);
      const missing = monitoredMetricNames().filter((name) => !exported.has(name));
      expect(missing, "metrics the alerts or the dashboard read but the operator exported no sample of").toEqual([]);

      const condition = (kind: string, name: string): Sample[] =>
        select(samples, "bird_operator_resource_condition", {
          kind,
          namespace: kind === "BirdWorkspace" ? "" : fixture.namespace,
          name,
        });
      expect(
        condition("PhoneNumber", "third").map((s) => [s.labels.condition, s.labels.status, s.labels.reason, s.value]),
      ).toEqual([
        ["Ready", "False", "QuotaExceeded", 1],
        ["Synced", "False", "QuotaExceeded", 1],
      ]);
      // Healthy resources have no series of their own: they are counted.
      expect(condition("PhoneNumber", "first")).toEqual([]);
      const counted = (kind: string, labels: Record<string, string>): number | undefined =>
        value(samples, "bird_operator_resources", { kind, ...labels });
      expect(counted("PhoneNumber", { condition: "Ready", status: "True", reason: "Available" })).toBe(2);
      expect(counted("PhoneNumber", { condition: "Ready", status: "False", reason: "QuotaExceeded" })).toBe(1);
      expect(counted("PhoneNumber", { condition: "Synced", status: "True" })).toBe(2);
      expect(counted("AlphaSender", { condition: "Ready", status: "False", reason: "PolicyViolation" })).toBe(1);
      expect(condition("AlphaSender", "acme").find((s) => s.labels.condition === "Ready")?.labels.reason).toBe(
        "PolicyViolation",
      );
      expect(condition("BirdWorkspace", fixture.workspace)).toEqual([]);
      expect(counted("BirdWorkspace", { condition: "Ready", status: "True" })).toBe(1);

      const phases: Record<string, number> = Object.fromEntries(
        select(samples, "bird_operator_workspace_numbers", ws()).map((s): [string, number] => [
          s.labels.phase ?? "",
          s.value,
        ]),
      );
      expect(phases).toEqual({ Available: 0, Reserved: 0, Purchasing: 0, Bound: 2, Released: 0, Lost: 0 });
      expect(value(samples, "bird_operator_workspace_numbers_billed", ws())).toBe(2);
      expect(value(samples, "bird_operator_workspace_numbers_limit", ws())).toBe(2);
      expect(value(samples, "bird_operator_workspace_numbers_headroom", ws())).toBe(0);
      expect(value(samples, "bird_operator_workspace_senders", ws({ phase: "Bound" }))).toBe(1);
      // The spend the workspace status shows (the reconciler's count) is the gauge's,
      // and the cap minus it is the headroom.
      const status = await eventually("workspace spend in status", async () => {
        const got = await getJson<BirdWorkspace>(cluster, ["birdworkspace", fixture.workspace]);
        return got.status?.monthlySpend &&
          Math.abs(
            toNumber(got.status.monthlySpend) -
              (value(samples, "bird_operator_workspace_monthly_spend", ws({ currency: "EUR" })) ?? -1),
          ) < 1e-9
          ? got
          : undefined;
      });
      const spend = toNumber(status.status?.monthlySpend ?? { currencyCode: "EUR", amount: 0, exponent: 0 });
      expect(spend).toBeGreaterThan(0);
      expect(value(samples, "bird_operator_workspace_monthly_spend_limit", ws({ currency: "EUR" }))).toBe(100);
      expect(value(samples, "bird_operator_workspace_monthly_spend_headroom", ws({ currency: "EUR" }))).toBeCloseTo(
        100 - spend,
        9,
      );

      expect(value(samples, "bird_operator_purchases_total", ws({ kind: "PhoneNumber" }))).toBe(
        sim.sim.purchases().length,
      );
      expect(sim.sim.purchases()).toHaveLength(2);
      // DE was activated (NL and GB were active already); BE is outside the workspace's allowedCountries.
      expect(value(samples, "bird_operator_purchases_total", ws({ kind: "AlphaSender" }))).toBe(1);
      expect(
        value(samples, "bird_operator_purchases_refused_total", ws({ kind: "PhoneNumber", reason: "QuotaExceeded" })),
      ).toBeGreaterThanOrEqual(1);
      expect(
        value(samples, "bird_operator_purchases_refused_total", ws({ kind: "AlphaSender", reason: "PolicyViolation" })),
      ).toBeGreaterThanOrEqual(1);
      expect(
        value(samples, "bird_operator_purchases_refused_total", ws({ kind: "PhoneNumber", reason: "CannotPurchase" })),
      ).toBe(0);
      expect(value(samples, "bird_api_errors_total", { class: "server_error" })).toBeGreaterThanOrEqual(1);
      expect(value(samples, "bird_api_errors_total", { class: "rate_limited" })).toBe(2);
      for (const name of ["phonenumber", "alphasender", "birdworkspace", "birdnumber", "birdsender"]) {
        expect(value(samples, "workqueue_unfinished_work_seconds", { name }), name).toBeGreaterThanOrEqual(0);
        expect(value(samples, "workqueue_longest_running_processor_seconds", { name }), name).toBeGreaterThanOrEqual(0);
      }
      expect(value(samples, "leader_election_master_status", {})).toBe(1);
    },
  );

  it(
    "fills what kubectl get shows: " + "the number's price, the sender's country counts, the workspace's spend",
    async () => {
      const number = await getJson<PhoneNumber>(cluster, ["pn", "first", "-n", fixture.namespace]);
      expect(number.status?.monthlyPriceText).toBe(
        formatMoney(number.status?.monthlyPrice ?? { currencyCode: "X", amount: 0, exponent: 0 }),
      );
      const sender = await getJson<AlphaSender>(cluster, ["alphasender", "acme", "-n", fixture.namespace]);
      // NL, GB and DE active; BE refused by the workspace's allowedCountries.
      expect([sender.status?.activeCountries, sender.status?.desiredCountries]).toEqual([3, 4]);
      const workspace = await eventually("spend text", async () => {
        const got = await getJson<BirdWorkspace>(cluster, ["birdworkspace", fixture.workspace]);
        return got.status?.monthlySpend && got.status.monthlySpendText === formatMoney(got.status.monthlySpend)
          ? got
          : undefined;
      });
      const { stdout } = await cluster.kubectl(["get", "bird", "-A", "-l", `bird-operator-test=${fixture.workspace}`]);
      expect(stdout).toContain(workspace.status?.monthlySpendText);
      const rows = (await cluster.kubectl(["get", "pn,as", "-n", fixture.namespace, "--no-headers"])).stdout
        .split("\n")
        .map((line) => line.trim().split(/\s+/));
      expect(rows.find((r) => r[0]?.endsWith("/first"))?.slice(4, 9)).toEqual([
        ...(number.status?.monthlyPriceText ?? "").split(" "),
        "True",
        "Available",
        "True",
      ]);
      expect(rows.find((r) => r[0]?.endsWith("/acme"))?.slice(1, 7)).toEqual([
        "ACME",
        "3",
        "4",
        "False",
        "PolicyViolation",
        "True",
      ]);
    },
  );

  it("exports per-resource and workspace series from the leader only", async () => {
    const samples = await scrape(standby);
    expect(value(samples, "leader_election_master_status", {})).toBe(0);
    expect(select(samples, "bird_operator_resource_condition")).toEqual([]);
    expect(select(samples, "bird_operator_resources")).toEqual([]);
    expect(samples.filter((s) => s.name.startsWith("bird_operator_workspace_"))).toEqual([]);
    const fromLeader = await scrape(leader);
    // third (QuotaExceeded) and acme (PolicyViolation), two conditions each.
    expect(select(fromLeader, "bird_operator_resource_condition").length).toBeGreaterThanOrEqual(2 * 2);
    expect(value(fromLeader, "bird_operator_resources", { kind: "PhoneNumber", condition: "Ready" })).toBe(3);
  });

  it("drops a deleted resource's series and counts its cancellation", async () => {
    await cluster.kubectl(["delete", "pn", "first", "third", "-n", fixture.namespace, "--wait=true", "--timeout=60s"]);
    const samples = await eventually("third's series gone, first no longer counted", async () => {
      const got = await scrape(leader);
      const readyCount = value(got, "bird_operator_resources", { kind: "PhoneNumber", condition: "Ready" });
      return select(got, "bird_operator_resource_condition", { kind: "PhoneNumber", name: "third" }).length === 0 &&
        readyCount === 1
        ? got
        : undefined;
    });
    expect(value(samples, "bird_operator_cancellations_total", ws({ kind: "PhoneNumber" }))).toBe(1);
    expect(
      value(samples, "bird_operator_resources", { kind: "PhoneNumber", condition: "Ready", reason: "Available" }),
    ).toBe(1);
  });
});
