/**
 * Self-service RBAC for application teams (deploy/rbac/tenant-cluster-roles.yaml), proven with real identities on the
 * real API server: users bound only to the built-in `edit` or `view` role in their namespace, whose rules the
 * aggregation controller (kube-controller-manager, started by the global setup) fills from deploy/'s roles. The exact
 * rule lists below are the contract: a widened rule (status, BirdWorkspaces, ownership records) fails here.
 */
import { CustomObjectsApi } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { testCluster, uniqueName } from "../helpers/cluster.js";
import { MERGE_PATCH } from "../../src/runtime/resource-client.js";
import { KubeHttp } from "../../src/runtime/kube-http.js";
import { createTenant, tenantMay, type Tenant } from "../helpers/tenants.js";

const cluster = testCluster();
const DEPLOY_DIR = new URL("../../deploy", import.meta.url).pathname;
const GROUP = "numbers.birdoperator.dev";

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface ClusterRole {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  rules?: Rule[] | null;
}

const WRITE = {
  apiGroups: [GROUP],
  resources: ["phonenumbers", "alphasenders"],
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"],
};
const READ = { apiGroups: [GROUP], resources: ["phonenumbers", "alphasenders"], verbs: ["get", "list", "watch"] };

/** Every ClusterRole deploy/ aggregates into the built-in roles, with the labels that do it and its rules. */
const EXPECTED_TENANT_ROLES = [
  { name: "bird-operator-tenant-edit", aggregateTo: ["admin", "edit"], rules: [WRITE] },
  { name: "bird-operator-tenant-view", aggregateTo: ["view"], rules: [READ] },
];

/**
 * What each built-in role grants on the operator's group once aggregated (`view` is part of `edit`, `edit` of `admin`).
 */
const EXPECTED_BUILT_IN = { view: [READ], edit: [READ, WRITE], admin: [READ, WRITE] };

const sorted = (rules: Rule[]): string[] => rules.map((rule) => JSON.stringify(rule)).sort();
const touchesGroup = (rule: Rule): boolean => (rule.apiGroups ?? []).some((g) => g === GROUP || g === "*");

function phoneNumber(name: string, namespace: string): Record<string, unknown> {
  return {
    apiVersion: `${GROUP}/v1alpha1`,
    kind: "PhoneNumber",
    metadata: { name, namespace },
    spec: { workspaceRef: { name: "tenant-rbac" }, countryCode: "US", type: "local", deletionPolicy: "Retain" },
  };
}

function alphaSender(name: string, namespace: string): Record<string, unknown> {
  return {
    apiVersion: `${GROUP}/v1alpha1`,
    kind: "AlphaSender",
    metadata: { name, namespace },
    spec: { workspaceRef: { name: "tenant-rbac" }, alphaString: "ACME", countries: ["NL"], deletionPolicy: "Retain" },
  };
}

describe("tenant RBAC: deploy/'s aggregated roles", () => {
  it("renders exactly the expected tenant ClusterRoles", async () => {
    const { stdout } = await cluster.kubectl(["kustomize", DEPLOY_DIR]);
    const aggregated = parseAllDocuments(stdout)
      .map((doc) => doc.toJS() as ClusterRole)
      .filter(
        (doc) =>
          doc.kind === "ClusterRole" &&
          Object.keys(doc.metadata.labels ?? {}).some((l) => l.startsWith("rbac.authorization.k8s.io/aggregate-to-")),
      )
      .map((role) => ({
        name: role.metadata.name,
        aggregateTo: Object.entries(role.metadata.labels ?? {})
          .filter(([label, value]) => label.startsWith("rbac.authorization.k8s.io/aggregate-to-") && value === "true")
          .map(([label]) => label.replace("rbac.authorization.k8s.io/aggregate-to-", ""))
          .sort(),
        rules: role.rules,
      }));
    expect(aggregated).toEqual(EXPECTED_TENANT_ROLES);
  });

  it("gives the built-in view, edit and admin roles exactly these rules on numbers.birdoperator.dev", async () => {
    for (const [role, expected] of Object.entries(EXPECTED_BUILT_IN)) {
      const { stdout } = await cluster.kubectl(["get", "clusterrole", role, "-o", "json"]);
      const rules = ((JSON.parse(stdout) as ClusterRole).rules ?? []).filter(touchesGroup);
      expect(sorted(rules), role).toEqual(sorted(expected));
    }
  });
});

describe("tenant RBAC: a tenant bound to edit in its namespace", () => {
  let tenant: Tenant;
  let viewer: Tenant;
  const namespace = uniqueName("team");
  const otherNamespace = uniqueName("other-team");

  beforeAll(async () => {
    tenant = await createTenant(cluster, { namespace });
    viewer = await createTenant(cluster, { namespace, user: `viewer-${namespace}`, role: "view" });
    await createTenant(cluster, { namespace: otherNamespace });
  });

  it("creates, updates and deletes PhoneNumbers and AlphaSenders in its namespace", async () => {
    for (const doc of [phoneNumber("line", namespace), alphaSender("acme", namespace)]) {
      await tenant.kubectl(["apply", "-f", "-"], { input: JSON.stringify(doc) });
    }
    await tenant.kubectl(["label", "phonenumber", "line", "-n", namespace, "team=a"]);
    await tenant.kubectl([
      "patch",
      "alphasender",
      "acme",
      "-n",
      namespace,
      "--type=merge",
      "-p",
      '{"spec":{"countries":["NL","BE"]}}',
    ]);
    const { stdout } = await tenant.kubectl(["get", "phonenumbers,alphasenders", "-n", namespace, "-o", "name"]);
    expect(stdout.trim().split("\n").sort()).toEqual([`alphasender.${GROUP}/acme`, `phonenumber.${GROUP}/line`]);
    await tenant.kubectl(["delete", "phonenumber", "line", "-n", namespace]);
    await tenant.kubectl(["delete", "alphasender", "acme", "-n", namespace]);
  });

  it("does the same through client-node with its KubeConfig", async () => {
    const api = tenant.kubeConfig.makeApiClient(CustomObjectsApi);
    const target = { group: GROUP, version: "v1alpha1", plural: "phonenumbers" };
    await api.createNamespacedCustomObject({ ...target, namespace, body: phoneNumber("via-client", namespace) });
    await api.deleteNamespacedCustomObject({ ...target, namespace, name: "via-client" });
    await expect(
      api.createNamespacedCustomObject({
        ...target,
        namespace: otherNamespace,
        body: phoneNumber("via-client", otherNamespace),
      }),
    ).rejects.toMatchObject({ code: 403 });
  });

  it("cannot touch another team's namespace", async () => {
    const refused = await tenant.kubectl(["apply", "-f", "-"], {
      input: JSON.stringify(phoneNumber("squat", otherNamespace)),
      allowFailure: true,
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/forbidden/i);
    expect(refused.stderr).toContain(`User "${tenant.user}" cannot`);
    for (const verb of ["get", "create", "delete"])
      expect(
        await tenantMay(tenant, { verb, group: GROUP, resource: "phonenumbers", namespace: otherNamespace }),
        verb,
      ).toBe(false);
  });

  it("cannot write status: what the operator reports stays the operator's", async () => {
    await tenant.kubectl(["apply", "-f", "-"], { input: JSON.stringify(phoneNumber("reported", namespace)) });
    const http = new KubeHttp(tenant.kubeConfig);
    const forged = http.request({
      method: "PATCH",
      path: `/apis/${GROUP}/v1alpha1/namespaces/${namespace}/phonenumbers/reported/status`,
      body: { status: { numberId: "forged" } },
      contentType: MERGE_PATCH,
    });
    await expect(forged).rejects.toMatchObject({ code: 403 });
    http.close();
    for (const resource of ["phonenumbers", "alphasenders"]) {
      for (const verb of ["get", "update", "patch"]) {
        expect(
          await tenantMay(tenant, { verb, group: GROUP, resource, subresource: "status", namespace }),
          `${verb} ${resource}/status`,
        ).toBe(false);
      }
    }
  });

  it("cannot create BirdWorkspaces or write the ownership records", async () => {
    const workspace = {
      apiVersion: `${GROUP}/v1alpha1`,
      kind: "BirdWorkspace",
      metadata: { name: uniqueName("tenant-ws") },
      spec: {},
    };
    const refused = await tenant.kubectl(["create", "-f", "-"], {
      input: JSON.stringify(workspace),
      allowFailure: true,
    });
    expect(refused.stderr).toContain(`cannot create resource "birdworkspaces"`);
    for (const plural of ["birdworkspaces", "birdnumbers", "birdsenders"]) {
      for (const verb of ["get", "create", "update", "patch", "delete"]) {
        expect(await tenantMay(tenant, { verb, group: GROUP, resource: plural }), `${verb} ${plural}`).toBe(false);
        expect(
          await tenantMay(tenant, { verb, group: GROUP, resource: plural, namespace }),
          `${verb} ${plural} in its namespace`,
        ).toBe(false);
      }
    }
  });

  it("a viewer reads PhoneNumbers but cannot create or delete them", async () => {
    const { stdout } = await viewer.kubectl(["get", "phonenumber", "reported", "-n", namespace, "-o", "name"]);
    expect(stdout.trim()).toBe(`phonenumber.${GROUP}/reported`);
    const refused = await viewer.kubectl(["apply", "-f", "-"], {
      input: JSON.stringify(phoneNumber("viewer-made", namespace)),
      allowFailure: true,
    });
    expect(refused.stderr).toMatch(/forbidden/i);
    expect(await tenantMay(viewer, { verb: "delete", group: GROUP, resource: "phonenumbers", namespace })).toBe(false);
    expect(await tenantMay(viewer, { verb: "list", group: GROUP, resource: "alphasenders", namespace })).toBe(true);
  });
});
