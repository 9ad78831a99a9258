/**
 * The deletion guard (deploy/components/deletion-guard) as the production install ships it, on a control plane of
 * this file's own (kube-controller-manager included): CRDs are deleted here, and the guard would refuse the other
 * files' deletions on the shared API server. The operator runs in-process so that its in-use report is the real
 * one; the team's objects are created and deleted by a tenant bound to `edit`, as in production.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { clusterAt, testCluster, uniqueName, type TestCluster } from "../helpers/cluster.js";
import { eventually, getJson } from "../support/fixtures.js";
import type { KubectlResult } from "../support/kubectl.js";
import { startTestOperator, type TestOperator } from "../helpers/operator.js";
import { createTenant, installTenantRoles, type Tenant } from "../helpers/tenants.js";

const CRD_DIR = new URL("../../crds", import.meta.url).pathname;
const DEPLOY_DIR = new URL("../../deploy", import.meta.url).pathname;
const GROUP = "numbers.birdoperator.dev";
const OPERATOR_NAMESPACE = "bird-operator";
const CONFIRM = `${GROUP}/confirm-delete=true`;
const WORKSPACE_LABEL = "bird-operator-test=deletion-guard";
const GUARD_README = new URL("../../deploy/components/deletion-guard/README.md", import.meta.url).pathname;

type Policy = "Delete" | "Retain";

function phoneNumber(name: string, namespace: string, deletionPolicy: Policy): Record<string, unknown> {
  return {
    apiVersion: `${GROUP}/v1alpha1`,
    kind: "PhoneNumber",
    metadata: { name, namespace },
    // No such workspace: the operator adds no finalizer, so an allowed deletion completes at once.
    spec: { workspaceRef: { name: "nowhere" }, countryCode: "US", type: "local", deletionPolicy },
  };
}

function alphaSender(name: string, namespace: string, deletionPolicy: Policy): Record<string, unknown> {
  return {
    apiVersion: `${GROUP}/v1alpha1`,
    kind: "AlphaSender",
    metadata: { name, namespace },
    spec: { workspaceRef: { name: "nowhere" }, alphaString: "ACME", countries: ["NL"], deletionPolicy },
  };
}

const crdName = (plural: string): string => `${plural}.${GROUP}`;
const refusedBy = (result: KubectlResult, policy: string): void => {
  expect(result.code, result.stdout).not.toBe(0);
  expect(result.stderr).toContain(`ValidatingAdmissionPolicy '${policy}'`);
};

describe("deletion guard on a control plane of its own", () => {
  let plane: ControlPlane;
  let admin: TestCluster;
  let tenant: Tenant;
  let operator: TestOperator | undefined;
  const team = uniqueName("team");

  const startOperator = async (): Promise<TestOperator> =>
    startTestOperator({
      kubeconfigPath: plane.kubeconfigPath,
      namespace: team,
      workspaceSelector: WORKSPACE_LABEL,
      // One namespace watched, as with --namespaces: the in-use report must still count every namespace.
      overrides: { namespaces: [team], operatorNamespace: OPERATOR_NAMESPACE },
    });
  const report = async (): Promise<Record<string, string> | undefined> => {
    const { stdout } = await admin.kubectl([
      "get",
      "configmap",
      "bird-operator-in-use",
      "-n",
      OPERATOR_NAMESPACE,
      "-o",
      "json",
      "--ignore-not-found",
    ]);
    return stdout.trim() ? ((JSON.parse(stdout) as { data?: Record<string, string> }).data ?? {}) : undefined;
  };
  const reported = (plural: string, value: "true" | "false"): Promise<true> =>
    eventually(`the operator to report ${plural}: ${value}`, async () =>
      (await report())?.[plural] === value ? true : undefined,
    );
  const exists = async (...args: string[]): Promise<boolean> =>
    (await admin.kubectl(["get", ...args, "-o", "name", "--ignore-not-found"])).stdout.trim() !== "";
  const tenantApply = (doc: Record<string, unknown>): Promise<KubectlResult> =>
    tenant.kubectl(["apply", "-f", "-"], { input: stringify(doc) });
  /** Server-side dry runs go through admission: polled until the policy refuses, so nothing is deleted meanwhile. */
  const refusedOnceInForce = (args: string[], policy: string): Promise<true> =>
    eventually(`${policy} to be in force`, async () => {
      const dryRun = await admin.kubectl([...args, "--dry-run=server"], { allowFailure: true });
      return dryRun.code !== 0 && dryRun.stderr.includes(policy) ? true : undefined;
    });
  /** Every PATCH of a ConfigMap this API server answered: here only the in-use reporter patches ConfigMaps. */
  const configMapPatches = async (): Promise<number> => {
    const { stdout } = await admin.kubectl(["get", "--raw", "/metrics"]);
    return stdout
      .split("\n")
      .filter(
        (line) =>
          line.startsWith("apiserver_request_total{") &&
          line.includes('resource="configmaps"') &&
          line.includes('verb="PATCH"'),
      )
      .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
  };

  /**
   * status.deletionPolicy (the effective policy, which the operator is to report):
   * added to this plane's CRD if crds/ lacks it.
   */
  const withStatusDeletionPolicy = async (): Promise<void> => {
    const crd = await getJson<{
      spec: {
        versions: {
          schema: { openAPIV3Schema: { properties: { status: { properties: Record<string, unknown> } } } };
        }[];
      };
    }>(admin, ["crd", crdName("phonenumbers")]);
    if (crd.spec.versions[0]?.schema.openAPIV3Schema.properties.status.properties.deletionPolicy) return;
    const field = {
      op: "add",
      path: "/spec/versions/0/schema/openAPIV3Schema/properties/status/properties/deletionPolicy",
      value: { type: "string", enum: ["Delete", "Retain"] },
    };
    await admin.kubectl(["patch", "crd", crdName("phonenumbers"), "--type=json", "-p", JSON.stringify([field])]);
  };

  beforeAll(async () => {
    plane = await ControlPlane.start({ crdDir: CRD_DIR, controllerManager: true });
    admin = clusterAt(plane.kubeconfigPath);
    const { stdout: install } = await admin.kubectl(["kustomize", DEPLOY_DIR]);
    await admin.kubectl(["apply", "-f", "-"], { input: install });
    await installTenantRoles(plane.kubeconfigPath);
    tenant = await createTenant(admin, { namespace: team });
    // Policies take effect once the API server has loaded them (both from one watch: this one stands for both).
    await tenantApply(phoneNumber("probe", team, "Delete"));
    await refusedOnceInForce(["delete", "phonenumber", "probe", "-n", team], "bird-operator-confirm-delete");
    await admin.kubectl([
      "patch",
      "phonenumber",
      "probe",
      "-n",
      team,
      "--type=merge",
      "-p",
      '{"spec":{"deletionPolicy":"Retain"}}',
    ]);
    await admin.kubectl(["delete", "phonenumber", "probe", "-n", team]);
    operator = await startOperator();
    for (const plural of ["birdworkspaces", "phonenumbers", "alphasenders"]) await reported(plural, "false");
  }, 240_000);

  afterAll(async () => {
    await operator?.stop();
    await plane?.stop();
  });

  it("refuses deleting a Delete-policy PhoneNumber or AlphaSender, saying how to proceed", async () => {
    await tenantApply(phoneNumber("released", team, "Delete"));
    await tenantApply(alphaSender("released", team, "Delete"));
    const refused = await tenant.kubectl(["delete", "phonenumber", "released", "-n", team], { allowFailure: true });
    refusedBy(refused, "bird-operator-confirm-delete");
    expect(refused.stderr).toContain(`PhoneNumber ${team}/released has deletionPolicy Delete`);
    expect(refused.stderr).toContain(`kubectl annotate phonenumbers released -n ${team} ${CONFIRM}`);
    refusedBy(
      await tenant.kubectl(["delete", "alphasender", "released", "-n", team], { allowFailure: true }),
      "bird-operator-confirm-delete",
    );
    expect(await exists("phonenumber", "released", "-n", team)).toBe(true);
    expect(await exists("alphasender", "released", "-n", team)).toBe(true);
  });

  it("lets the deletion through once the tenant confirms it with the annotation", async () => {
    for (const kind of ["phonenumber", "alphasender"]) {
      await tenant.kubectl(["annotate", kind, "released", "-n", team, CONFIRM]);
      await tenant.kubectl(["delete", kind, "released", "-n", team, "--timeout=30s"]);
      expect(await exists(kind, "released", "-n", team)).toBe(false);
    }
  });

  it("lets Retain objects go without confirmation", async () => {
    await tenantApply(phoneNumber("kept", team, "Retain"));
    await tenantApply(alphaSender("kept", team, "Retain"));
    await tenant.kubectl(["delete", "phonenumber", "kept", "-n", team, "--timeout=30s"]);
    await tenant.kubectl(["delete", "alphasender", "kept", "-n", team, "--timeout=30s"]);
    expect(await exists("phonenumber", "kept", "-n", team)).toBe(false);
    expect(await exists("alphasender", "kept", "-n", team)).toBe(false);
  });

  it("takes the effective policy from status when the operator reports one, else from spec", async () => {
    await withStatusDeletionPolicy();
    // Not a namespace the operator watches: its status writes cannot race these hand-made ones.
    const elsewhere = await createTenant(admin, { namespace: uniqueName("status-policy") });
    const ns = elsewhere.namespace;
    for (const [name, spec, status] of [
      ["spec-delete", "Delete", "Retain"],
      ["spec-retain", "Retain", "Delete"],
    ] as const) {
      await elsewhere.kubectl(["apply", "-f", "-"], { input: stringify(phoneNumber(name, ns, spec)) });
      await eventually(`status.deletionPolicy ${status} on ${name}`, async () => {
        await admin.kubectl([
          "patch",
          "phonenumber",
          name,
          "-n",
          ns,
          "--subresource=status",
          "--type=merge",
          "-p",
          JSON.stringify({ status: { deletionPolicy: status } }),
        ]);
        return (await getJson<{ status?: { deletionPolicy?: string } }>(admin, ["phonenumber", name, "-n", ns])).status
          ?.deletionPolicy === status
          ? true
          : undefined;
      });
    }
    refusedBy(
      await elsewhere.kubectl(["delete", "phonenumber", "spec-retain", "-n", ns], { allowFailure: true }),
      "bird-operator-confirm-delete",
    );
    await elsewhere.kubectl(["delete", "phonenumber", "spec-delete", "-n", ns, "--timeout=30s"]);
    await elsewhere.kubectl(["annotate", "phonenumber", "spec-retain", "-n", ns, CONFIRM]);
    await elsewhere.kubectl(["delete", "phonenumber", "spec-retain", "-n", ns, "--timeout=30s"]);
  });

  it("does not hold up a namespace deletion: its Delete-policy objects go with it", async () => {
    const doomed = uniqueName("doomed");
    const doomedTenant = await createTenant(admin, { namespace: doomed });
    for (const doc of [phoneNumber("line", doomed, "Delete"), alphaSender("sender", doomed, "Delete")]) {
      await doomedTenant.kubectl(["apply", "-f", "-"], { input: stringify(doc) });
    }
    refusedBy(
      await doomedTenant.kubectl(["delete", "phonenumber", "line", "-n", doomed], { allowFailure: true }),
      "bird-operator-confirm-delete",
    );
    await admin.kubectl(["delete", "namespace", doomed, "--wait=false"]);
    await eventually(
      `namespace ${doomed} to finish deleting`,
      async () => ((await exists("namespace", doomed)) ? undefined : true),
      60_000,
    );
  });

  it("writes the in-use report only when a kind flips between none and some", async () => {
    await tenantApply(phoneNumber("first", team, "Retain"));
    await reported("phonenumbers", "true");
    const before = await eventually("the report to settle", async () => {
      const count = await configMapPatches();
      await new Promise((r) => setTimeout(r, 1000));
      return (await configMapPatches()) === count ? count : undefined;
    });
    expect(before, "the flips to have been written").toBeGreaterThan(0);
    await tenantApply(phoneNumber("second", team, "Retain"));
    await tenant.kubectl(["label", "phonenumber", "first", "-n", team, "touched=yes"]);
    // The operator has seen both events once it wrote their status; a report would follow them within milliseconds.
    for (const name of ["first", "second"]) {
      await eventually(`the operator to reconcile ${name}`, async () => {
        const pn = await getJson<{ status?: { conditions?: unknown[] } }>(admin, ["phonenumber", name, "-n", team]);
        return pn.status?.conditions?.length ? true : undefined;
      });
    }
    await new Promise((r) => setTimeout(r, 1000));
    expect(await configMapPatches()).toBe(before);
  });

  it("refuses deleting a CRD while objects of it exist, with the policy's message", async () => {
    const refused = await admin.kubectl(["delete", "crd", crdName("phonenumbers")], { allowFailure: true });
    refusedBy(refused, "bird-operator-crds-in-use");
    expect(refused.stderr).toContain(
      `objects of it still exist (ConfigMap ${OPERATOR_NAMESPACE}/bird-operator-in-use says phonenumbers: true)`,
    );
    expect(refused.stderr).toContain("To uninstall safely");
    expect(await exists("crd", crdName("phonenumbers"))).toBe(true);
    expect(await exists("phonenumber", "first", "-n", team)).toBe(true);
  });

  it("refuses an Argo CD-style prune of the CRDs (kubectl delete -k crds/)", async () => {
    await admin.kubectl(["apply", "-f", "-"], {
      input: stringify({
        apiVersion: `${GROUP}/v1alpha1`,
        kind: "BirdWorkspace",
        metadata: { name: "prod", labels: { "bird-operator-test": "deletion-guard" } },
        spec: {
          organizationId: "11111111-1111-4111-8111-111111111111",
          workspaceId: "22222222-2222-4222-8222-222222222222",
          accessKeySecretRef: { namespace: OPERATOR_NAMESPACE, name: "missing", key: "accessKey" },
        },
      }),
    });
    await tenantApply(alphaSender("sender", team, "Retain"));
    for (const plural of ["birdworkspaces", "phonenumbers", "alphasenders"]) await reported(plural, "true");
    const prune = await admin.kubectl(["delete", "-k", CRD_DIR], { allowFailure: true });
    expect(prune.code).not.toBe(0);
    for (const plural of ["birdworkspaces", "phonenumbers", "alphasenders"]) {
      expect(prune.stderr).toContain(
        `"${crdName(plural)}" is forbidden: ValidatingAdmissionPolicy 'bird-operator-crds-in-use'`,
      );
      expect(await exists("crd", crdName(plural)), plural).toBe(true);
    }
    expect(await exists("birdworkspace", "prod")).toBe(true);
    // The CRDs of kinds without objects (the ownership records here) were let through, as the guard intends: put them
    // back, as an uninstall that changed its mind would (the operator needs every one of its kinds to start).
    for (const plural of ["birdnumbers", "birdsenders"])
      expect(await exists("crd", crdName(plural)), plural).toBe(false);
    await admin.kubectl(["apply", "-k", CRD_DIR]);
    await admin.kubectl([
      "wait",
      "--for=condition=Established",
      `crd/${crdName("birdnumbers")}`,
      `crd/${crdName("birdsenders")}`,
      "--timeout=30s",
    ]);
  });

  it("fails closed without the operator's report, and the operator writes it again when it starts", async () => {
    await operator?.stop();
    operator = undefined;
    await admin.kubectl(["delete", "configmap", "bird-operator-in-use", "-n", OPERATOR_NAMESPACE]);
    const refused = await admin.kubectl(["delete", "crd", crdName("birdworkspaces")], { allowFailure: true });
    refusedBy(refused, "bird-operator-crds-in-use");
    expect(refused.stderr).toContain("no params found");
    await admin.kubectl([
      "create",
      "configmap",
      "bird-operator-in-use",
      "-n",
      OPERATOR_NAMESPACE,
      "--from-literal=phonenumbers=true",
    ]);
    const unreported = await admin.kubectl(["delete", "crd", crdName("birdworkspaces")], { allowFailure: true });
    refusedBy(unreported, "bird-operator-crds-in-use");
    expect(unreported.stderr).toContain("the operator has not reported whether objects of it exist");
    expect(await exists("crd", crdName("birdworkspaces"))).toBe(true);
    operator = await startOperator();
    for (const plural of ["birdworkspaces", "phonenumbers", "alphasenders"]) await reported(plural, "true");
    for (const plural of ["birdnumbers", "birdsenders"]) await reported(plural, "false");
  });

  it(
    "counts objects in namespaces the operator does not watch: " + "the report comes from a live list, not its cache",
    async () => {
      const outside = uniqueName("unwatched");
      await admin.kubectl(["create", "namespace", outside]);
      await admin.kubectl(["apply", "-f", "-"], { input: stringify(phoneNumber("outsider", outside, "Retain")) });
      const patches = await configMapPatches();
      await tenant.kubectl(["delete", "phonenumbers", "--all", "-n", team, "--timeout=30s"]);
      await eventually("the operator to report after its cache emptied", async () =>
        (await configMapPatches()) > patches ? true : undefined,
      );
      expect((await report())?.phonenumbers).toBe("true");
      refusedBy(
        await admin.kubectl(["delete", "crd", crdName("phonenumbers")], { allowFailure: true }),
        "bird-operator-crds-in-use",
      );
      await admin.kubectl(["delete", "phonenumber", "outsider", "-n", outside]);
    },
  );

  it("allows deleting a CRD once its objects are gone and the operator has reported so", async () => {
    // The last deletion must be one the operator sees (see the README: deletions elsewhere wait for the next flip).
    await tenantApply(phoneNumber("last", team, "Retain"));
    await reported("phonenumbers", "true");
    await tenant.kubectl(["delete", "phonenumber", "last", "-n", team, "--timeout=30s"]);
    await reported("phonenumbers", "false");
    await admin.kubectl(["delete", "crd", crdName("phonenumbers"), "--timeout=30s"]);
    expect(await exists("crd", crdName("phonenumbers"))).toBe(false);
  });
});

describe("leaving the deletion guard out", () => {
  it(
    "the README's overlay renders the install without the guard's four objects, " + "and nothing else changes",
    async () => {
      const section = readFileSync(GUARD_README, "utf8").split("## Leaving it out")[1] ?? "";
      const overlay = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
      expect(overlay).toContain("kind: Kustomization");
      const dir = mkdtempSync(join(tmpdir(), "without-guard-"));
      try {
        writeFileSync(
          join(dir, "kustomization.yaml"),
          overlay.replace(/^ {2}- \S+ # where deploy\/ is for you$/m, `  - ${relative(dir, DEPLOY_DIR)}`),
        );
        const render = async (path: string): Promise<string[]> =>
          parseAllDocuments((await testCluster().kubectl(["kustomize", path])).stdout).map((doc) => {
            const { kind, metadata } = doc.toJS() as { kind: string; metadata: { name: string } };
            return `${kind}/${metadata.name}`;
          });
        const withGuard = await render(DEPLOY_DIR);
        const guard = withGuard.filter((id) => id.startsWith("ValidatingAdmissionPolicy"));
        expect(guard.sort()).toEqual([
          "ValidatingAdmissionPolicy/bird-operator-confirm-delete",
          "ValidatingAdmissionPolicy/bird-operator-crds-in-use",
          "ValidatingAdmissionPolicyBinding/bird-operator-confirm-delete",
          "ValidatingAdmissionPolicyBinding/bird-operator-crds-in-use",
        ]);
        expect(await render(dir)).toEqual(withGuard.filter((id) => !guard.includes(id)));
        // Argo CD must neither prune nor delete the CRDs, guard or not.
        const { stdout } = await testCluster().kubectl(["kustomize", dir]);
        const crds = parseAllDocuments(stdout)
          .map(
            (doc) => doc.toJS() as { kind: string; metadata: { name: string; annotations?: Record<string, string> } },
          )
          .filter((doc) => doc.kind === "CustomResourceDefinition");
        expect(
          crds.map((crd) => [crd.metadata.name, crd.metadata.annotations?.["argocd.argoproj.io/sync-options"]]),
        ).toEqual(crds.map((crd) => [crd.metadata.name, "Delete=false,Prune=false"]));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
