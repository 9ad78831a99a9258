import { AuthorizationV1Api, KubeConfig, type V1ResourceAttributes } from "@kubernetes/client-node";
import { stringify } from "yaml";
import type { TestCluster } from "./cluster.js";
import { kubectl, type KubectlOptions, type KubectlResult } from "../support/kubectl.js";

/** The ClusterRoles deploy/ ships for application teams; the global setup installs them like the CRDs. */
export const TENANT_ROLES_FILE = new URL("../../deploy/rbac/tenant-cluster-roles.yaml", import.meta.url).pathname;

export type TenantRole = "edit" | "admin" | "view";

export interface Tenant {
  /** The user name the API server authenticates and authorizes (RBAC subject of the RoleBinding). */
  user: string;
  namespace: string;
  role: TenantRole;
  /**
   * kubectl as this user: the admin kubeconfig with `--as`,
   * which the API server checks like the user's own credentials.
   */
  kubectl(args: string[], options?: KubectlOptions): Promise<KubectlResult>;
  /**
   * A client-node KubeConfig that impersonates the user (Impersonate-User on every request); KubeHttp accepts it too.
   */
  kubeConfig: KubeConfig;
}

/**
 * An application team's member as the API server sees one: a user bound to the built-in aggregated `edit` ClusterRole
 * (or `admin`/`view`) in one namespace by a RoleBinding, and to nothing else; never cluster-admin. The admin
 * impersonates the user, so requests are authorized exactly as the user's own would be. Creates the namespace if
 * needed and waits until the binding is in force.
 */
export async function createTenant(
  cluster: TestCluster,
  options: { namespace: string; user?: string; role?: TenantRole },
): Promise<Tenant> {
  const { namespace } = options;
  const user = options.user ?? `tenant-${namespace}`;
  const role = options.role ?? "edit";
  const docs = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: `${user}-${role}`, namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
    },
  ];
  await cluster.kubectl(["apply", "-f", "-"], { input: docs.map((d) => stringify(d)).join("---\n") });
  const tenant: Tenant = {
    user,
    namespace,
    role,
    kubectl: (args, opts) => kubectl(cluster.kubeconfigPath, [`--as=${user}`, ...args], opts),
    kubeConfig: impersonating(cluster.kubeConfig, user),
  };
  await waitUntilAllowed(tenant, { verb: "get", resource: "configmaps", namespace });
  return tenant;
}

/**
 * Whether the API server would allow the tenant this
 * (a SelfSubjectAccessReview made as the tenant, like `kubectl auth can-i`).
 */
export async function tenantMay(tenant: Tenant, attributes: V1ResourceAttributes): Promise<boolean> {
  const review = await tenant.kubeConfig
    .makeApiClient(AuthorizationV1Api)
    .createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attributes } } });
  return review.status?.allowed === true;
}

/**
 * Applies deploy/'s tenant ClusterRoles and waits until the aggregation controller has added their rules to `edit`,
 * `admin` and `view` (kube-controller-manager must run): until then a tenant is refused what the roles promise.
 */
export async function installTenantRoles(kubeconfigPath: string): Promise<void> {
  await kubectl(kubeconfigPath, ["apply", "-f", TENANT_ROLES_FILE]);
  const deadline = Date.now() + 30_000;
  for (const role of ["edit", "admin", "view"]) {
    for (;;) {
      const { stdout } = await kubectl(kubeconfigPath, ["get", "clusterrole", role, "-o", "json"]);
      const rules = (JSON.parse(stdout) as { rules?: { resources?: string[] }[] | null }).rules ?? [];
      if (rules.some((rule) => rule.resources?.includes("phonenumbers"))) break;
      if (Date.now() > deadline)
        throw new Error(
          `the ${role} ClusterRole has no PhoneNumber rule after 30 s: ` +
            "is kube-controller-manager's clusterrole-aggregation controller running?",
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function impersonating(admin: KubeConfig, user: string): KubeConfig {
  const cluster = admin.getCurrentCluster();
  const adminUser = admin.getCurrentUser();
  if (!cluster || !adminUser) throw new Error("the admin kubeconfig has no current cluster or user");
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [cluster],
    users: [{ ...adminUser, name: user, impersonateUser: user }],
    contexts: [{ name: user, cluster: cluster.name, user }],
    currentContext: user,
  });
  return kubeConfig;
}

/** RBAC authorizes from a cache of bindings: a RoleBinding just created can take a moment to count. */
async function waitUntilAllowed(tenant: Tenant, attributes: V1ResourceAttributes): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await tenantMay(tenant, attributes))) {
    if (Date.now() > deadline)
      throw new Error(`${tenant.user} still may not ${JSON.stringify(attributes)} 10 s after its RoleBinding`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
