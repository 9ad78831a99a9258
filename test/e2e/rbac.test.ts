import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { freezeConfig } from "../../src/config.js";
import { createOperator } from "../../src/operator.js";
import { loadKubeConnection } from "../../src/runtime/kube-config.js";
import { Metrics } from "../../src/runtime/metrics.js";
import { startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { testCluster, uniqueName } from "../helpers/cluster.js";
import { ACCESS_KEY, apply, eventually, getJson, ORGANIZATION_ID, WORKSPACE_ID } from "../support/fixtures.js";
import { startTestOperator, type TestOperator } from "../helpers/operator.js";

const cluster = testCluster();
const OPERATOR_NAMESPACE = "bird-operator";
const SERVICE_ACCOUNT = `system:serviceaccount:${OPERATOR_NAMESPACE}:bird-operator`;
const DEPLOY_DIR = new URL("../../deploy", import.meta.url).pathname;

type Doc = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
} & Record<string, unknown>;
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
interface KubeEvent {
  type: string;
  reason: string;
  message: string;
  involvedObject: { name: string };
}

/**
 * deploy/'s RBAC, proven rather than assumed: the operator runs in-process with a token of the ServiceAccount that
 * deploy/ creates, against the real API server (which enforces RBAC) and the Bird simulator; then single rules are
 * taken away to show each one is needed, and put back.
 */
describe("deploy/ RBAC against the real API server", () => {
  let sim: RunningSimulator;
  let rendered: Doc[];
  let tempDir: string;
  let serviceAccountKubeconfig: string;
  let operator: TestOperator | undefined;
  const namespace = uniqueName("rbac");
  const workspace = uniqueName("ws-rbac");
  const secretName = uniqueName("rbac-access-key");
  const leaseName = uniqueName("rbac-lease");
  const selector = `bird-operator-test=${workspace}`;

  const find = (kind: string): Doc => {
    const doc = rendered.find((d) => d.kind === kind && d.metadata.name === "bird-operator");
    if (!doc) throw new Error(`kubectl kustomize deploy/ rendered no ${kind} bird-operator`);
    return doc;
  };
  /**
   * Applies a copy of a rendered role with each rule as `edit` returns it
   * (undefined drops it): `kubectl apply` replaces the rule list.
   */
  const applyWithout = (kind: "ClusterRole" | "Role", edit: (rule: Rule) => Rule | undefined): Promise<void> => {
    const role = structuredClone(find(kind));
    role.rules = (role.rules ?? []).flatMap((rule) => edit(rule) ?? []);
    return apply(cluster, role);
  };
  const restore = (kind: "ClusterRole" | "Role"): Promise<void> => apply(cluster, find(kind));
  const canI = async (...args: string[]): Promise<boolean> => {
    const { stdout } = await cluster.kubectl(["auth", "can-i", ...args, `--as=${SERVICE_ACCOUNT}`], {
      allowFailure: true,
    });
    return stdout.trim() === "yes";
  };
  const phoneNumber = (name: string): Record<string, unknown> => ({
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "PhoneNumber",
    metadata: { name, namespace },
    spec: {
      workspaceRef: { name: workspace },
      countryCode: "US",
      type: "local",
      destinations: [{ capability: "sms", countryCodes: ["US"] }],
    },
  });
  const events = async (name: string): Promise<KubeEvent[]> =>
    (
      await getJson<{ items: KubeEvent[] }>(cluster, [
        "events",
        "-n",
        namespace,
        `--field-selector=involvedObject.name=${name}`,
      ])
    ).items;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, validateResponses: true });
    const { stdout: render } = await cluster.kubectl(["kustomize", DEPLOY_DIR]);
    rendered = parseAllDocuments(render).map((d) => d.toJS() as Doc);
    // The whole install applies but the deletion guard: on this API server, shared by every test file, it would refuse
    // the other files' deletions (test/e2e/deletion-guard.test.ts runs it on a control plane of its own). The
    // Deployment just never runs (no kubelet), which is fine here.
    const install = rendered.filter((doc) => !doc.kind.startsWith("ValidatingAdmissionPolicy"));
    const applied = await cluster.kubectl(["apply", "-f", "-"], {
      input: install.map((doc) => stringify(doc)).join("---\n"),
    });
    expect(applied.stderr).not.toMatch(/PodSecurity/);

    const { stdout: token } = await cluster.kubectl([
      "create",
      "token",
      "bird-operator",
      "-n",
      OPERATOR_NAMESPACE,
      "--duration=1h",
    ]);
    tempDir = mkdtempSync(join(tmpdir(), "rbac-test-"));
    serviceAccountKubeconfig = join(tempDir, "kubeconfig");
    writeFileSync(serviceAccountKubeconfig, serviceAccountKubeconfigFor(cluster.kubeconfigPath, token.trim()), {
      mode: 0o600,
    });

    // Admitted by label, not by name: the operator then reads the namespace, which the namespaces rule must allow.
    await apply(cluster, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: namespace, labels: { "bird-operator-test/rbac": workspace } },
    });
    await apply(
      cluster,
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: secretName, namespace: OPERATOR_NAMESPACE },
        stringData: { accessKey: ACCESS_KEY },
      },
      {
        apiVersion: "numbers.birdoperator.dev/v1alpha1",
        kind: "BirdWorkspace",
        metadata: { name: workspace, labels: { "bird-operator-test": workspace } },
        spec: {
          organizationId: ORGANIZATION_ID,
          workspaceId: WORKSPACE_ID,
          endpoint: sim.url,
          accessKeySecretRef: { namespace: OPERATOR_NAMESPACE, name: secretName, key: "accessKey" },
          allowedNamespaces: { selector: { matchLabels: { "bird-operator-test/rbac": workspace } } },
        },
      },
    );
    operator = await startTestOperator({
      kubeconfigPath: serviceAccountKubeconfig,
      namespace,
      workspaceSelector: selector,
      overrides: {
        operatorNamespace: OPERATOR_NAMESPACE,
        namespaces: [namespace],
        leaderElection: {
          enabled: true,
          leaseName,
          leaseNamespace: OPERATOR_NAMESPACE,
          identity: "rbac-test",
          leaseDurationMs: 15_000,
          renewDeadlineMs: 10_000,
          retryPeriodMs: 2_000,
        },
      },
    });
  });

  afterAll(async () => {
    await restore("ClusterRole").catch(() => undefined);
    await restore("Role").catch(() => undefined);
    await operator?.stop();
    await cluster.kubectl(["delete", "birdworkspace", workspace, "--wait=false", "--ignore-not-found"], {
      allowFailure: true,
    });
    await cluster.kubectl(["delete", "secret", secretName, "-n", OPERATOR_NAMESPACE, "--ignore-not-found"], {
      allowFailure: true,
    });
    await sim?.close();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  });

  it("renders exactly the rules the operator uses: an over-grant fails here", () => {
    const rules = (kind: "ClusterRole" | "Role"): string[] =>
      (find(kind).rules ?? [])
        .flatMap((rule) =>
          rule.apiGroups.flatMap((group) =>
            rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${group}/${resource}:${verb}`)),
          ),
        )
        .sort();
    const group = "numbers.birdoperator.dev";
    expect(rules("ClusterRole")).toEqual(
      [
        ...["birdworkspaces", "phonenumbers", "alphasenders"].flatMap((r) =>
          ["get", "list", "watch", "patch"].map((v) => `${group}/${r}:${v}`),
        ),
        ...["birdnumbers", "birdsenders"].flatMap((r) =>
          ["get", "list", "watch", "create", "update", "delete"].map((v) => `${group}/${r}:${v}`),
        ),
        ...["birdworkspaces/status", "phonenumbers/status", "alphasenders/status"].map((r) => `${group}/${r}:patch`),
        ...["birdworkspaces/finalizers", "phonenumbers/finalizers", "alphasenders/finalizers"].map(
          (r) => `${group}/${r}:update`,
        ),
        "/events:create",
        "/events:patch",
        "/namespaces:list",
        "/namespaces:watch",
      ].sort(),
    );
    expect(rules("Role").filter((rule) => !rule.includes("configmaps"))).toEqual(
      [
        "/secrets:list",
        "/secrets:watch",
        "/secrets:patch",
        "coordination.k8s.io/leases:get",
        "coordination.k8s.io/leases:create",
        "coordination.k8s.io/leases:update",
      ].sort(),
    );
  });

  it("grants the ServiceAccount what the operator uses and nothing it does not (kubectl auth can-i)", async () => {
    const allowed: string[][] = [
      ["list", "phonenumbers.numbers.birdoperator.dev", "-A"],
      ["watch", "alphasenders.numbers.birdoperator.dev", "-A"],
      ["watch", "birdworkspaces.numbers.birdoperator.dev"],
      ["patch", "phonenumbers.numbers.birdoperator.dev", "-n", namespace],
      ["get", "phonenumbers.numbers.birdoperator.dev", "-n", namespace],
      ["create", "birdnumbers.numbers.birdoperator.dev"],
      ["delete", "birdsenders.numbers.birdoperator.dev"],
      ["patch", "phonenumbers.numbers.birdoperator.dev", "-n", namespace, "--subresource=status"],
      ["patch", "birdworkspaces.numbers.birdoperator.dev", "--subresource=status"],
      ["update", "phonenumbers.numbers.birdoperator.dev", "-n", namespace, "--subresource=finalizers"],
      ["create", "events", "-n", namespace],
      ["patch", "events", "-n", "default"],
      ["watch", "namespaces"],
      ["list", "secrets", "-n", OPERATOR_NAMESPACE],
      ["patch", "secrets", "-n", OPERATOR_NAMESPACE],
      ["create", "leases.coordination.k8s.io", "-n", OPERATOR_NAMESPACE],
      ["update", "leases.coordination.k8s.io", "-n", OPERATOR_NAMESPACE],
      ["create", "configmaps", "-n", OPERATOR_NAMESPACE],
      ["patch", "configmaps/bird-operator-in-use", "-n", OPERATOR_NAMESPACE],
    ];
    const denied: string[][] = [
      ["list", "secrets", "-A"],
      ["get", "secrets", "-n", namespace],
      ["get", "secrets", "-n", "default"],
      ["update", "secrets", "-n", OPERATOR_NAMESPACE],
      ["create", "phonenumbers.numbers.birdoperator.dev", "-n", namespace],
      ["update", "phonenumbers.numbers.birdoperator.dev", "-n", namespace],
      ["delete", "phonenumbers.numbers.birdoperator.dev", "-n", namespace],
      ["delete", "birdworkspaces.numbers.birdoperator.dev"],
      ["patch", "birdnumbers.numbers.birdoperator.dev"],
      ["update", "phonenumbers.numbers.birdoperator.dev", "-n", namespace, "--subresource=status"],
      ["delete", "events", "-n", namespace],
      ["patch", "namespaces"],
      ["create", "leases.coordination.k8s.io", "-n", "default"],
      ["delete", "leases.coordination.k8s.io", "-n", OPERATOR_NAMESPACE],
      ["create", "pods", "-n", OPERATOR_NAMESPACE],
      ["patch", "configmaps/other", "-n", OPERATOR_NAMESPACE],
      ["get", "configmaps/bird-operator-in-use", "-n", OPERATOR_NAMESPACE],
      ["delete", "configmaps/bird-operator-in-use", "-n", OPERATOR_NAMESPACE],
      ["create", "configmaps", "-n", namespace],
    ];
    const answers = async (list: string[][]): Promise<Record<string, boolean>> =>
      Object.fromEntries(await Promise.all(list.map(async (args) => [args.join(" "), await canI(...args)] as const)));
    expect(await answers(allowed)).toEqual(Object.fromEntries(allowed.map((args) => [args.join(" "), true])));
    expect(await answers(denied)).toEqual(Object.fromEntries(denied.map((args) => [args.join(" "), false])));
  });

  it("leads, buys a number, reports Ready and releases it on delete with exactly these permissions", async () => {
    const lease = await eventually("the leader lease", async () => {
      const got = await getJson<{ spec?: { holderIdentity?: string } }>(cluster, [
        "lease",
        leaseName,
        "-n",
        OPERATOR_NAMESPACE,
      ]);
      return got.spec?.holderIdentity ? got : undefined;
    });
    expect(lease.spec?.holderIdentity).toBe("rbac-test");
    await cluster.kubectl(["wait", "--for=condition=Ready", `birdworkspace/${workspace}`, "--timeout=30s"]);

    await apply(cluster, {
      ...phoneNumber("granted"),
      spec: { ...(phoneNumber("granted").spec as object), deletionPolicy: "Delete" },
    });
    await cluster.kubectl(["wait", "--for=condition=Ready", "phonenumber/granted", "-n", namespace, "--timeout=60s"]);
    const pn = await getJson<PhoneNumber>(cluster, ["phonenumber", "granted", "-n", namespace]);
    expect(pn.metadata?.finalizers).toContain("numbers.birdoperator.dev/finalizer");
    await eventually("a Purchased event", async () =>
      (await events("granted")).some((e) => e.reason === "Purchased") ? true : undefined,
    );

    const endpointId = pn.status?.endpointId ?? "";
    await cluster.kubectl(["delete", "phonenumber", "granted", "-n", namespace, "--wait=false"]);
    await cluster.kubectl(["wait", "--for=delete", "phonenumber/granted", "-n", namespace, "--timeout=60s"]);
    const cancels = sim.sim
      .calls()
      .recent.filter((c) => c.method === "POST" && c.route.endsWith("/cancel") && c.path?.includes(endpointId));
    expect(cancels.length).toBeGreaterThanOrEqual(1);
  });

  it("reports which kinds are in use for the deletion guard with exactly these permissions", async () => {
    const report = await eventually("the in-use ConfigMap", () =>
      getJson<{ data?: Record<string, string> }>(cluster, [
        "configmap",
        "bird-operator-in-use",
        "-n",
        OPERATOR_NAMESPACE,
      ]),
    );
    expect(Object.keys(report.data ?? {}).sort()).toEqual([
      "alphasenders",
      "birdnumbers",
      "birdsenders",
      "birdworkspaces",
      "phonenumbers",
    ]);
    expect(Object.values(report.data ?? {}).every((v) => v === "true" || v === "false")).toBe(true);
    expect(report.data?.birdworkspaces).toBe("true");
  });

  it(
    "without patch on phonenumbers/status, " + "says forbidden on the object and recovers once the rule is back",
    async () => {
      const purchasesBefore = sim.sim.purchases().length;
      await applyWithout("ClusterRole", (rule) => ({
        ...rule,
        resources: rule.resources.filter((r) => r !== "phonenumbers/status"),
      }));
      try {
        await eventually("the status subresource to be forbidden", async () =>
          (await canI("patch", "phonenumbers.numbers.birdoperator.dev", "-n", namespace, "--subresource=status"))
            ? undefined
            : true,
        );
        await apply(cluster, phoneNumber("no-status"));
        const warning = await eventually("a Warning event naming the missing permission", async () =>
          (await events("no-status")).find((e) => e.type === "Warning" && /forbidden/.test(e.message)),
        );
        expect(warning.message).toContain(`cannot patch resource "phonenumbers/status"`);
        expect(warning.message).toContain(SERVICE_ACCOUNT);
        expect(
          (await getJson<PhoneNumber>(cluster, ["phonenumber", "no-status", "-n", namespace])).status?.conditions,
        ).toBeUndefined();
      } finally {
        await restore("ClusterRole");
      }
      await cluster.kubectl([
        "wait",
        "--for=condition=Ready",
        "phonenumber/no-status",
        "-n",
        namespace,
        "--timeout=60s",
      ]);
      // The number bought before the status write failed was recorded on the object and is not bought again.
      expect(sim.sim.purchases().length).toBe(purchasesBefore + 1);
    },
  );

  it.each([
    {
      what: "the Secret rule",
      kind: "Role" as const,
      resource: "secrets",
      canIArgs: ["list", "secrets", "-n", OPERATOR_NAMESPACE],
      path: `/namespaces/${OPERATOR_NAMESPACE}/secrets`,
    },
    {
      what: "the namespaces rule",
      kind: "ClusterRole" as const,
      resource: "namespaces",
      canIArgs: ["list", "namespaces"],
      path: "/api/v1/namespaces",
    },
  ])(
    "without $what, a new operator cannot sync its caches: forbidden, and never ready",
    async ({ kind, resource, canIArgs, path }) => {
      await applyWithout(kind, (rule) => (rule.resources.includes(resource) ? undefined : rule));
      const logs: { msg?: string; path?: string; err?: string }[] = [];
      const logger = pino(
        { level: "warn" },
        { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) },
      );
      const kubeConfig = await loadKubeConnection({ path: serviceAccountKubeconfig });
      const manager = createOperator({
        config: freezeConfig({
          namespaces: [namespace],
          workspaceSelector: selector,
          operatorNamespace: OPERATOR_NAMESPACE,
          workers: 1,
          resyncMs: 60_000,
          leaderElection: {
            enabled: false,
            leaseName,
            leaseNamespace: OPERATOR_NAMESPACE,
            identity: "rbac-test-no-secrets",
            leaseDurationMs: 15_000,
            renewDeadlineMs: 10_000,
            retryPeriodMs: 2_000,
          },
          metricsAddress: "127.0.0.1:0",
          healthAddress: "127.0.0.1:0",
          logLevel: "warn",
          logFormat: "json",
          purchaseGraceMs: 5_000,
          birdTimeoutMs: 5_000,
          shutdownDeadlineMs: 5_000,
        }),
        kubeConfig,
        logger,
        metrics: new Metrics(),
      });
      let started = false;
      // Never resolves here: start() waits for caches that cannot sync (and gives up long after this test).
      const starting = manager.start().then(() => (started = true));
      starting.catch(() => undefined);
      try {
        await eventually("the operator to name the forbidden list", async () =>
          (await canI(...canIArgs))
            ? undefined
            : logs.find((l) => l.path?.endsWith(path) && /forbidden/.test(l.err ?? "")),
        );
        const failure = logs.find((l) => l.path?.endsWith(path) && /forbidden/.test(l.err ?? ""));
        expect(failure?.err).toContain(`cannot list resource "${resource}"`);
        const health = await eventually("the health address", async () => manager.addresses?.health);
        const readyz = await fetch(`http://${health}/readyz`);
        expect(readyz.status).toBe(503);
        expect(started).toBe(false);
      } finally {
        await manager.stop();
        await restore(kind);
      }
      expect(await canI(...canIArgs)).toBe(true);
    },
  );
});

/** A kubeconfig for the admin kubeconfig's cluster (server and CA) that authenticates with a ServiceAccount token. */
function serviceAccountKubeconfigFor(adminKubeconfigPath: string, token: string): string {
  const admin = new KubeConfig();
  admin.loadFromFile(adminKubeconfigPath);
  const server = admin.getCurrentCluster();
  if (!server) throw new Error(`${adminKubeconfigPath} has no current cluster`);
  const raw = parse(admin.exportConfig()) as { clusters: { name: string; cluster: Record<string, unknown> }[] };
  const cluster = raw.clusters.find((c) => c.name === server.name);
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: cluster?.cluster }],
    users: [{ name: "bird-operator", user: { token } }],
    contexts: [
      { name: "bird-operator", context: { cluster: "test", user: "bird-operator", namespace: OPERATOR_NAMESPACE } },
    ],
    "current-context": "bird-operator",
  });
}
