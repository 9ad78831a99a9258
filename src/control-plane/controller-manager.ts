import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isApiStatus } from "../runtime/errors.js";
import type { KubeSource } from "../runtime/kube-config.js";
import { KubeHttp } from "../runtime/kube-http.js";
import { startProcess, waitUntil } from "./processes.js";

/**
 * What the test bed needs from kube-controller-manager: namespaces that finish deleting, owner-reference garbage
 * collection, and the built-in edit/admin/view ClusterRoles filled from labelled ClusterRoles (tenants hold `edit`).
 */
const CONTROLLERS = ["namespace", "garbagecollector", "clusterrole-aggregation"];

const RBAC = "/apis/rbac.authorization.k8s.io/v1/clusterroles";

/**
 * Starts kube-controller-manager against the admin kubeconfig and resolves once its controllers do real work: a probe
 * ClusterRole was aggregated. Its controllers start together once connected, so this one stands for all three; a
 * probe namespace deletion would prove the namespace controller too, but costs 5 s (it deletes every namespaced
 * resource type in turn), and test/control-plane/controller-manager.test.ts proves that instead. Started alone, it
 * serves nothing (`--secure-port=0`) and needs no leader election or per-controller service accounts.
 */
export async function startControllerManager(options: {
  binary: string;
  kubeconfigPath: string;
  dir: string;
  kubeConfig: KubeSource;
}): Promise<ChildProcess> {
  const logFile = join(options.dir, "kube-controller-manager.log");
  const args = [
    `--kubeconfig=${options.kubeconfigPath}`,
    `--controllers=${CONTROLLERS.join(",")}`,
    "--use-service-account-credentials=false",
    "--leader-elect=false",
    "--secure-port=0",
  ];
  const child = startProcess(options.binary, args, logFile);
  const http = new KubeHttp(options.kubeConfig);
  try {
    const probe = `bird-operator-kcm-probe-${randomBytes(4).toString("hex")}`;
    await waitUntil(
      "kube-controller-manager's clusterrole-aggregation controller",
      aggregatesClusterRoles(http, probe),
      {
        timeoutMs: 60_000,
        child,
        logTail: () => readFileSync(logFile, "utf8").split("\n").slice(-30).join("\n"),
      },
    );
    return child;
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  } finally {
    http.close();
  }
}

/** A probe ClusterRole aggregating a labelled one: its rules stay empty until the aggregation controller runs. */
function aggregatesClusterRoles(http: KubeHttp, name: string): () => Promise<boolean> {
  const label = { "bird-operator.dev/kcm-probe": name };
  const source = `${name}-source`;
  let created = false;
  return async () => {
    if (!created) {
      await ignoring(
        409,
        http.request({
          method: "POST",
          path: RBAC,
          body: { metadata: { name }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: label }] }, rules: [] },
        }),
      );
      await ignoring(
        409,
        http.request({
          method: "POST",
          path: RBAC,
          body: {
            metadata: { name: source, labels: label },
            rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }],
          },
        }),
      );
      created = true;
    }
    const role = await http.request<{ rules?: unknown[] | null }>({ method: "GET", path: `${RBAC}/${name}` });
    if (!role.rules?.length) return false;
    for (const probe of [name, source])
      await ignoring(404, http.request({ method: "DELETE", path: `${RBAC}/${probe}` }));
    return true;
  };
}

/** Resolves "ignored" when the request fails with `code` (an earlier attempt already did it), rethrows other errors. */
async function ignoring(code: number, request: Promise<unknown>): Promise<"done" | "ignored"> {
  try {
    await request;
    return "done";
  } catch (error) {
    if (isApiStatus(error, code)) return "ignored";
    throw error;
  }
}
