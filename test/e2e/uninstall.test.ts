/**
 * The README's uninstall (README.md, "### Uninstall") on a control plane of this file's own (kube-controller-manager
 * included: the install's namespace is deleted, and the tenant's `edit` role is aggregated): installed from the
 * bundle's install.yaml as a user would, real purchases in the simulator, then the wrong order (the CRDs first) and the
 * README's order, judged in the simulator. CRDs are deleted here, which the shared API server's other files could not
 * survive.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import type { BirdNumber, BirdSender, PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { clusterAt, uniqueName, type TestCluster } from "../helpers/cluster.js";
import { ACCESS_KEY, eventually, getJson, ORGANIZATION_ID, WORKSPACE_ID } from "../support/fixtures.js";
import type { KubectlResult } from "../support/kubectl.js";
import { startTestOperator, type TestOperator } from "../helpers/operator.js";
import { createTenant, installTenantRoles, type Tenant } from "../helpers/tenants.js";

const README = new URL("../../README.md", import.meta.url).pathname;
const DEPLOY_DIR = new URL("../../deploy", import.meta.url).pathname;
const CRD_DIR = new URL("../../crds", import.meta.url).pathname;
const GROUP = "numbers.birdoperator.dev";
const API = `${GROUP}/v1alpha1`;
const OPERATOR_NAMESPACE = "bird-operator";
const CONFIRM = `${GROUP}/confirm-delete=true`;
const PLURALS = ["alphasenders", "birdnumbers", "birdsenders", "birdworkspaces", "phonenumbers"] as const;
const crdName = (plural: string): string => `${plural}.${GROUP}`;

/**
 * The kubectl commands of each numbered step of the README's uninstall, in order (step 1 has none: it is a decision).
 */
function readmeUninstallCommands(): string[][] {
  const section = readFileSync(README, "utf8").split("### Uninstall\n")[1]?.split("\n### ")[0] ?? "";
  return section
    .split(/\n(?=\d+\. )/)
    .filter((item) => /^\d+\. /.test(item))
    .map((item) =>
      [...item.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? "").filter((code) => code.startsWith("kubectl ")),
    );
}

describe("uninstall, README order and wrong order, on a control plane of its own", () => {
  let plane: ControlPlane;
  let admin: TestCluster;
  let sim: RunningSimulator;
  let tenant: Tenant;
  let operator: TestOperator | undefined;
  let workDir: string;
  const team = uniqueName("team");
  const workspace = uniqueName("ws");
  const sender = { alphaString: `U${Math.random().toString(36).slice(2, 8).toUpperCase()}`, countries: ["NL", "GB"] };

  /** A README command as a user types it: a shell in the directory holding install.yaml, KUBECONFIG pointing here. */
  const shell = (command: string): Promise<KubectlResult> =>
    new Promise((resolve, reject) => {
      const child = spawn("sh", ["-c", command], {
        cwd: workDir,
        env: { ...process.env, KUBECONFIG: plane.kubeconfigPath },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  const tenantApply = (kind: string, name: string, spec: Record<string, unknown>): Promise<KubectlResult> =>
    tenant.kubectl(["apply", "-f", "-"], {
      input: stringify({
        apiVersion: API,
        kind,
        metadata: { name, namespace: team },
        spec: { workspaceRef: { name: workspace }, ...spec },
      }),
    });
  const phoneNumber = (name: string): Promise<PhoneNumber> =>
    getJson<PhoneNumber>(admin, ["phonenumber", name, "-n", team]);
  const subscriptionStatus = (endpointId: string, name: string): string | undefined =>
    sim.sim.state.subscriptions(sim.sim.state.anyEndpoint(endpointId)).results.find((s) => s.name === name)?.status;
  /** Every release Bird was asked for, by anyone: cancelled subscriptions and deactivated destinations. */
  const releases = (): { route: string; path: string }[] =>
    sim.sim
      .calls()
      .recent.filter(
        (c) => c.method === "POST" && (c.route.endsWith("/cancel") || c.route.endsWith("/destinations/deactivate")),
      );
  const inUseReport = async (): Promise<Record<string, string> | undefined> => {
    const args = [
      "get",
      "configmap",
      "bird-operator-in-use",
      "-n",
      OPERATOR_NAMESPACE,
      "-o",
      "json",
      "--ignore-not-found",
    ];
    const { stdout } = await admin.kubectl(args);
    return stdout.trim() ? ((JSON.parse(stdout) as { data?: Record<string, string> }).data ?? {}) : undefined;
  };
  /**
   * The guard goes by status.deletionPolicy once the operator reports it: a changed spec counts once status follows.
   */
  const effectivePolicy = (name: string, policy: string): Promise<true> =>
    eventually(`status.deletionPolicy ${policy} on ${name}`, async () =>
      (await phoneNumber(name)).status?.deletionPolicy === policy ? true : undefined,
    );

  // Endpoint ids by PhoneNumber name, and the sender's, read once everything is Ready.
  const endpoints = new Map<string, string>();
  let senderEndpoint = "";

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, validateResponses: true, provisioningDelayMs: 100 });
    senderEndpoint = sim.sim.addSender({ alphaString: sender.alphaString, workspaceId: WORKSPACE_ID }).endpointId;
    plane = await ControlPlane.start({ controllerManager: true });
    admin = clusterAt(plane.kubeconfigPath);
    workDir = mkdtempSync(join(tmpdir(), "uninstall-"));
    // The bundle's install.yaml is `kubectl kustomize deploy/` with the image pinned
    // (scripts/release.sh); installed as the README says.
    writeFileSync(join(workDir, "install.yaml"), (await admin.kubectl(["kustomize", DEPLOY_DIR])).stdout);
    expect((await shell("kubectl apply --server-side -f install.yaml")).code).toBe(0);
    await admin.kubectl([
      "wait",
      "--for=condition=Established",
      ...PLURALS.map((p) => `crd/${crdName(p)}`),
      "--timeout=30s",
    ]);
    await admin.kubectl([
      "-n",
      OPERATOR_NAMESPACE,
      "create",
      "secret",
      "generic",
      "bird-access-key",
      `--from-literal=accessKey=${ACCESS_KEY}`,
    ]);
    await admin.kubectl(["apply", "-f", "-"], {
      input: stringify({
        apiVersion: API,
        kind: "BirdWorkspace",
        metadata: { name: workspace, labels: { "bird-operator-test": workspace } },
        spec: {
          organizationId: ORGANIZATION_ID,
          workspaceId: WORKSPACE_ID,
          endpoint: sim.url,
          accessKeySecretRef: { namespace: OPERATOR_NAMESPACE, name: "bird-access-key" },
          allowedNamespaces: { names: [team] },
        },
      }),
    });
    // Only for its wait until kube-controller-manager has aggregated the install's tenant roles into `edit`.
    await installTenantRoles(plane.kubeconfigPath);
    tenant = await createTenant(admin, { namespace: team });
    operator = await startTestOperator({
      kubeconfigPath: plane.kubeconfigPath,
      namespace: team,
      workspaceSelector: `bird-operator-test=${workspace}`,
      overrides: { namespaces: [team], operatorNamespace: OPERATOR_NAMESPACE },
    });
    await admin.kubectl(["wait", "--for=condition=Ready", `birdworkspace/${workspace}`, "--timeout=30s"]);
    // released is confirmed in step 1, decided is switched to Retain there, forgotten is left for the guard to catch.
    for (const [name, policy] of [
      ["released", "Delete"],
      ["kept", "Retain"],
      ["decided", "Delete"],
      ["forgotten", "Delete"],
    ] as const) {
      await tenantApply("PhoneNumber", name, { countryCode: "US", type: "local", deletionPolicy: policy });
    }
    await tenantApply("AlphaSender", "sender", { ...sender, deletionPolicy: "Retain" });
    await admin.kubectl([
      "wait",
      "--for=condition=Ready",
      "phonenumbers,alphasenders",
      "--all",
      "-n",
      team,
      "--timeout=60s",
    ]);
    for (const name of ["released", "kept", "decided", "forgotten"])
      endpoints.set(name, (await phoneNumber(name)).status?.endpointId ?? "");
    // The guard's policies are loaded from one watch, so a server-side dry run refused by the other policy (nothing is
    // deleted) shows the CRD guard in force too without presuming what it does, which the first test is there to prove.
    await eventually("the deletion guard to be in force, with the operator's report", async () => {
      const dryRun = await admin.kubectl(["delete", "phonenumber", "forgotten", "-n", team, "--dry-run=server"], {
        allowFailure: true,
      });
      return dryRun.stderr.includes("bird-operator-confirm-delete") && (await inUseReport())?.phonenumbers === "true"
        ? true
        : undefined;
    });
  }, 240_000);

  afterAll(async () => {
    await operator?.stop();
    await plane?.stop();
    expect(sim?.sim.responseViolations() ?? []).toEqual([]);
    await sim?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it(
    "the wrong order, the CRDs first, is refused and releases nothing: " +
      "every number and the sender stay as they were",
    async () => {
      // A naive uninstall: first the kinds that hold numbers, by name (what a cascade would release if let through:
      // their records and workspace would still be there to release by), then every CRD as shipped (what an Argo CD
      // prune does).
      // --wait=false changes nothing the API server decides; without it, a deletion let through would hang here.
      const attempts = [
        {
          args: ["delete", "crd", crdName("phonenumbers"), crdName("alphasenders"), "--wait=false"],
          plurals: ["phonenumbers", "alphasenders"],
        },
        { args: ["delete", "-k", CRD_DIR, "--wait=false"], plurals: PLURALS },
      ];
      for (const attempt of attempts) {
        const refused = await admin.kubectl(attempt.args, { allowFailure: true });
        expect(refused.code, refused.stdout).not.toBe(0);
        for (const plural of attempt.plurals) {
          expect(refused.stderr).toContain(
            `"${crdName(plural)}" is forbidden: ValidatingAdmissionPolicy 'bird-operator-crds-in-use'`,
          );
          expect(refused.stderr).toContain(`says ${plural}: true`);
        }
      }
      for (const plural of PLURALS) {
        const crd = await getJson<{ metadata: { deletionTimestamp?: string } }>(admin, ["crd", crdName(plural)]);
        expect(crd.metadata.deletionTimestamp, plural).toBeUndefined();
      }
      // Time for the operator to act on anything the attempts started: with the CRD guard removed, the first attempt's
      // cascade had cancelled the three Delete numbers well within it.
      await new Promise((r) => setTimeout(r, 2000));
      const { items } = await getJson<{ items: PhoneNumber[] }>(admin, ["phonenumbers", "-n", team]);
      const ready = (pn: PhoneNumber): string | undefined =>
        pn.status?.conditions?.find((c) => c.type === "Ready")?.status;
      expect(items.map((pn) => [pn.metadata?.name, pn.metadata?.deletionTimestamp, ready(pn)]).sort()).toEqual([
        ["decided", undefined, "True"],
        ["forgotten", undefined, "True"],
        ["kept", undefined, "True"],
        ["released", undefined, "True"],
      ]);
      expect(releases()).toEqual([]);
      for (const [name, endpointId] of endpoints) expect(subscriptionStatus(endpointId, "main"), name).toBe("active");
      for (const country of sender.countries)
        expect(subscriptionStatus(senderEndpoint, country), country).toBe("active");
    },
  );

  it(
    "the README order cancels only the confirmed Delete numbers, " + "keeps the inventory, and ends with the CRDs gone",
    async () => {
      const steps = readmeUninstallCommands();
      // What the README says to run, step by step; the test runs these strings, so a README edit is tested.
      expect(steps).toEqual([
        [],
        ["kubectl delete phonenumbers,alphasenders --all -A --wait"],
        [
          "kubectl get birdnumbers,birdsenders -o yaml > bird-inventory.yaml && " +
            "kubectl delete birdnumbers,birdsenders --all",
        ],
        ["kubectl delete birdworkspaces --all --wait"],
        ["kubectl get configmap bird-operator-in-use -n bird-operator -o yaml"],
        ["kubectl delete -f install.yaml", "kubectl delete -f crds.yaml"],
      ]);
      const [
        ,
        [deleteNumbers = ""] = [],
        [inventory = ""] = [],
        [deleteWorkspaces = ""] = [],
        [report = ""] = [],
        [removeOperator = ""] = [],
      ] = steps;

      // 1. Decide: step 1 names no command; these are the guard's own (deploy/components/deletion-guard/README.md).
      await admin.kubectl([
        "patch",
        "pn",
        "decided",
        "-n",
        team,
        "--type=merge",
        "-p",
        '{"spec":{"deletionPolicy":"Retain"}}',
      ]);
      await admin.kubectl(["annotate", "phonenumbers", "released", "-n", team, CONFIRM]);
      await effectivePolicy("decided", "Retain");

      // 2. A Delete number nobody decided on is refused,
      // saying how to proceed; the rest go, and nothing of it is released.
      const partly = await shell(deleteNumbers);
      expect(partly.code).not.toBe(0);
      expect(partly.stderr).toContain(`PhoneNumber ${team}/forgotten has deletionPolicy Delete`);
      expect((await phoneNumber("forgotten")).metadata?.deletionTimestamp).toBeUndefined();
      expect(subscriptionStatus(endpoints.get("forgotten") ?? "", "main")).toBe("active");
      // The decision its message offers: keep it in Bird. Then step 2 again, which now completes.
      await admin.kubectl([
        "patch",
        "pn",
        "forgotten",
        "-n",
        team,
        "--type=merge",
        "-p",
        '{"spec":{"deletionPolicy":"Retain"}}',
      ]);
      await effectivePolicy("forgotten", "Retain");
      const deleted = await shell(deleteNumbers);
      expect(deleted.code, deleted.stderr).toBe(0);
      expect((await admin.kubectl(["get", "phonenumbers,alphasenders", "-A", "-o", "name"])).stdout.trim()).toBe("");
      expect(releases().map((c) => c.path)).toEqual([
        expect.stringContaining(`/endpoints/${endpoints.get("released")}/subscriptions/main/cancel`),
      ]);

      // 3. The inventory lists what stays paid for, by the ids Bird knows it by; deleting the records releases nothing.
      const records = await getJson<{ items: (BirdNumber | BirdSender)[] }>(admin, ["birdnumbers,birdsenders"]);
      expect((await shell(inventory)).code).toBe(0);
      const saved = parse(readFileSync(join(workDir, "bird-inventory.yaml"), "utf8")) as {
        items: (BirdNumber | BirdSender)[];
      };
      expect(saved.items.map((r) => r.metadata.uid).sort()).toEqual(records.items.map((r) => r.metadata.uid).sort());
      const kept = saved.items
        .filter((r) => r.status?.phase === "Released")
        .map((r) => r.status?.endpointId)
        .sort();
      expect(kept).toEqual(
        [endpoints.get("decided"), endpoints.get("forgotten"), endpoints.get("kept"), senderEndpoint].sort(),
      );
      expect((await admin.kubectl(["get", "birdnumbers,birdsenders", "-o", "name"])).stdout.trim()).toBe("");

      // 4 and 5. The workspace goes once nothing uses it, and the operator reports every kind empty.
      expect((await shell(deleteWorkspaces)).code).toBe(0);
      const final = await eventually("the operator to report every kind empty", async () => {
        const data = (parse((await shell(report)).stdout) as { data?: Record<string, string> }).data ?? {};
        return PLURALS.every((p) => data[p] === "false") ? data : undefined;
      });
      expect(Object.keys(final).sort()).toEqual([...PLURALS]);

      // 6. The operator and its CRDs go: the guard, deleted later by the same command, lets the CRDs through on the
      // report of step 5 (the namespace holding it, first in the file, is only starting to terminate then).
      const removed = await shell(removeOperator);
      expect(removed.code, removed.stderr).toBe(0);
      await operator?.stop();
      operator = undefined;
      expect((await admin.kubectl(["get", "crd", "-o", "name"])).stdout).not.toContain(GROUP);

      // In Bird, from start to end: the confirmed number cancelled, nothing else released.
      expect(releases()).toHaveLength(1);
      expect(subscriptionStatus(endpoints.get("released") ?? "", "main")).not.toBe("active");
      for (const name of ["kept", "decided", "forgotten"])
        expect(subscriptionStatus(endpoints.get(name) ?? "", "main"), name).toBe("active");
      for (const country of sender.countries)
        expect(subscriptionStatus(senderEndpoint, country), country).toBe("active");
    },
  );
});
