/**
 * kube-controller-manager in the shared test control plane (the global setup starts it): namespaces finish deleting,
 * owner references are garbage collected, and labelled ClusterRoles are aggregated into the built-in roles that
 * tenants are bound to. Without it every one of these waits forever.
 */
import { describe, expect, it } from "vitest";
import { testCluster, uniqueName } from "../helpers/cluster.js";
import { apply, eventually, getJson } from "../support/fixtures.js";

const cluster = testCluster();

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}

const rulesOf = async (role: string): Promise<Rule[]> =>
  (await getJson<{ rules?: Rule[] | null }>(cluster, ["clusterrole", role])).rules ?? [];
const gone = async (...args: string[]): Promise<true | undefined> => {
  const { stdout } = await cluster.kubectl(["get", ...args, "--ignore-not-found", "-o", "name"]);
  return stdout.trim() === "" ? true : undefined;
};

describe("kube-controller-manager in the test bed", () => {
  it("finishes deleting a namespace and everything in it, custom resources included", async () => {
    const namespace = uniqueName("kcm-ns");
    await apply(
      cluster,
      { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace }, data: { a: "b" } },
      {
        apiVersion: "numbers.birdoperator.dev/v1alpha1",
        kind: "PhoneNumber",
        metadata: { name: "line", namespace },
        spec: { workspaceRef: { name: "nowhere" }, countryCode: "US", type: "local", deletionPolicy: "Retain" },
      },
    );
    await cluster.kubectl(["delete", "namespace", namespace, "--wait=false"]);
    await eventually(`namespace ${namespace} to be gone`, () => gone("namespace", namespace), 60_000);
    expect(await gone("phonenumbers", "-n", namespace)).toBe(true);
  });

  it("garbage-collects an object whose owner was deleted", async () => {
    const owner = uniqueName("kcm-owner");
    await apply(cluster, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: owner, namespace: "default" } });
    const { metadata } = await getJson<{ metadata: { uid: string } }>(cluster, ["configmap", owner, "-n", "default"]);
    await apply(cluster, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: `${owner}-dependent`,
        namespace: "default",
        ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: owner, uid: metadata.uid }],
      },
    });
    await cluster.kubectl(["delete", "configmap", owner, "-n", "default"]);
    await eventually(
      "the dependent ConfigMap to be collected",
      () => gone("configmap", `${owner}-dependent`, "-n", "default"),
      60_000,
    );
  });

  it("aggregates a labelled ClusterRole into view, edit and admin, and takes it out again when it goes", async () => {
    const name = uniqueName("kcm-aggregate");
    // A resource nobody serves: the rule changes what the built-in roles say, not what anyone may do.
    const rule = { apiGroups: ["kcm-test.bird-operator.dev"], resources: [name], verbs: ["get"] };
    await apply(cluster, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name, labels: { "rbac.authorization.k8s.io/aggregate-to-view": "true" } },
      rules: [rule],
    });
    const has = (rules: Rule[]): boolean => rules.some((r) => r.resources?.includes(name));
    for (const role of ["view", "edit", "admin"]) {
      await eventually(`${role} to include the labelled rule`, async () =>
        has(await rulesOf(role)) ? true : undefined,
      );
    }
    expect((await rulesOf("view")).find((r) => r.resources?.includes(name))).toEqual(rule);

    await cluster.kubectl(["delete", "clusterrole", name]);
    for (const role of ["view", "edit", "admin"]) {
      await eventually(`${role} to drop the rule`, async () => (has(await rulesOf(role)) ? undefined : true));
    }
  });
});
