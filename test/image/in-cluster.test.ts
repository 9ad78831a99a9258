import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { freePort } from "../../src/control-plane/processes.js";
import { startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { testCluster, uniqueName } from "../helpers/cluster.js";
import {
  builtImage,
  imageConfig,
  startContainer,
  unpack,
  type Bundle,
  type Container,
  type RuntimeSpec,
} from "../helpers/container.js";
import { ACCESS_KEY, apply, eventually, getJson, ORGANIZATION_ID, WORKSPACE_ID } from "../support/fixtures.js";

const cluster = testCluster();
const DEPLOY_DIR = new URL("../../deploy", import.meta.url).pathname;
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface ContainerSpec {
  args: string[];
  env: EnvVar[];
  resources: { limits?: { memory?: string } };
  securityContext: {
    runAsUser: number;
    runAsGroup: number;
    readOnlyRootFilesystem: boolean;
    allowPrivilegeEscalation: boolean;
    capabilities: { drop: string[] };
  };
}
interface Deployment {
  kind: "Deployment";
  metadata: { name: string; namespace: string };
  spec: {
    template: {
      spec: { serviceAccountName: string; terminationGracePeriodSeconds: number; containers: ContainerSpec[] };
    };
  };
}

/**
 * The image as a kubelet would run it, minus the kubelet: scripts/build-image.sh's image unpacked by umoci and run by
 * runc with what deploy/'s Deployment asks for (its args, env, user, read-only root, dropped capabilities, memory
 * limit), a ServiceAccount token minted by the API server, its CA and namespace at the standard path, and
 * KUBERNETES_SERVICE_HOST/PORT naming the test API server. The container shares the host's network because the API
 * server and the Bird simulator listen on loopback, so the probe ports move to free ones.
 */
describe("the image in a container, in-cluster mode, with deploy/'s RBAC", () => {
  let sim: RunningSimulator;
  let bundle: Bundle;
  let container: Container;
  let deployment: Deployment;
  let operatorNamespace: string;
  let healthAddress: string;
  let startedAt: number;
  const namespace = uniqueName("image");
  const workspace = uniqueName("ws-image");
  const podName = uniqueName("bird-operator-pod");

  beforeAll(async () => {
    const image = builtImage();
    [bundle, sim] = await Promise.all([unpack(image), startSimulator({ port: 0 })]);
    const { stdout: render } = await cluster.kubectl(["kustomize", DEPLOY_DIR]);
    const docs = parseAllDocuments(render).map((d) => d.toJS() as { kind: string });
    deployment = docs.find((d): d is Deployment => d.kind === "Deployment")!;
    operatorNamespace = deployment.metadata.namespace;
    // The whole install applies: CRDs, RBAC, the ServiceAccount; the Deployment itself never runs (no kubelet).
    await cluster.kubectl(["apply", "-f", "-"], { input: render });

    const serviceAccountDir = join(bundle.dir, "..", "serviceaccount");
    mkdirSync(serviceAccountDir);
    const serviceAccount = deployment.spec.template.spec.serviceAccountName;
    const { stdout: token } = await cluster.kubectl([
      "create",
      "token",
      serviceAccount,
      "-n",
      operatorNamespace,
      "--duration=1h",
    ]);
    writeFileSync(join(serviceAccountDir, "token"), token.trim());
    writeFileSync(join(serviceAccountDir, "ca.crt"), Buffer.from(clusterCa(cluster.kubeconfigPath), "base64"));
    writeFileSync(join(serviceAccountDir, "namespace"), operatorNamespace);

    await apply(
      cluster,
      { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `${workspace}-key`, namespace: operatorNamespace },
        stringData: { accessKey: ACCESS_KEY },
      },
      {
        apiVersion: "numbers.birdoperator.dev/v1alpha1",
        kind: "BirdWorkspace",
        metadata: { name: workspace },
        spec: {
          organizationId: ORGANIZATION_ID,
          workspaceId: WORKSPACE_ID,
          endpoint: sim.url,
          accessKeySecretRef: { namespace: operatorNamespace, name: `${workspace}-key`, key: "accessKey" },
          allowedNamespaces: { names: [namespace] },
        },
      },
      {
        apiVersion: "numbers.birdoperator.dev/v1alpha1",
        kind: "PhoneNumber",
        metadata: { name: "from-the-image", namespace },
        spec: {
          workspaceRef: { name: workspace },
          countryCode: "US",
          type: "local",
          destinations: [{ capability: "sms", countryCodes: ["US"] }],
        },
      },
    );

    const server = new URL(clusterServer(cluster.kubeconfigPath));
    healthAddress = `127.0.0.1:${await freePort()}`;
    bundle.spec = podSpec(bundle, deployment, {
      podName,
      namespace: operatorNamespace,
      serviceAccountDir,
      env: { KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port },
      addresses: { health: healthAddress, metrics: `127.0.0.1:${await freePort()}` },
    });
    startedAt = Date.now();
    container = startContainer(bundle, podName);
  });

  afterAll(async () => {
    await container?.destroy();
    bundle?.remove();
    await cluster.kubectl(
      ["delete", "phonenumber", "from-the-image", "-n", namespace, "--wait=false", "--ignore-not-found"],
      { allowFailure: true },
    );
    await cluster.kubectl(["delete", "birdworkspace", workspace, "--wait=false", "--ignore-not-found"], {
      allowFailure: true,
    });
    await sim?.close();
  });

  it("answers /readyz and makes a PhoneNumber Ready, as the ServiceAccount and nothing else", async () => {
    const ready = await eventually(
      "/readyz to answer 200",
      async () =>
        (await fetch(`http://${healthAddress}/readyz`).catch(() => undefined))?.status === 200 ? Date.now() : undefined,
      60_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\ncontainer output:\n${container.output().slice(-3000)}`);
    });
    await cluster.kubectl([
      "wait",
      "--for=condition=Ready",
      "phonenumber/from-the-image",
      "-n",
      namespace,
      "--timeout=60s",
    ]);
    const pnReady = Date.now();
    console.log(
      `[image] container start -> /readyz 200: ${ready - startedAt} ms; ` +
        `-> PhoneNumber Ready: ${pnReady - startedAt} ms`,
    );

    const pn = await getJson<PhoneNumber>(cluster, [
      "phonenumber",
      "from-the-image",
      "-n",
      namespace,
      "--show-managed-fields",
    ]);
    expect(pn.status?.numberString).toMatch(/^\+1/);
    expect(sim.sim.purchases()).toHaveLength(1);
    const lease = await getJson<{ spec: { holderIdentity: string } }>(cluster, [
      "lease",
      "bird-operator",
      "-n",
      operatorNamespace,
    ]);
    expect(lease.spec.holderIdentity).toMatch(new RegExp(`^${podName}_\\d+$`));
    // Its writes name the operator as their field manager.
    const managers = (pn.metadata?.managedFields ?? []).filter((f) => f.subresource === "status").map((f) => f.manager);
    expect(managers).toContain("bird-operator");
    // JSON logs, as the Deployment asks; no kubeconfig exists in the container, so in-cluster mode is the only way in.
    const logs = container
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { msg: string });
    expect(logs.map((l) => l.msg)).toContain("Starting controllers");
  });

  it("runs as the Deployment says: uid 65532, read-only root, no capabilities, no privilege escalation", async () => {
    const pid = await container.pid();
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(status)?.[1]?.trim() ?? "";
    expect(field("Uid").split(/\s+/)).toEqual(["65532", "65532", "65532", "65532"]);
    expect(field("Gid").split(/\s+/)).toEqual(["65532", "65532", "65532", "65532"]);
    expect(field("CapEff")).toBe("0000000000000000");
    expect(field("CapBnd")).toBe("0000000000000000");
    expect(field("NoNewPrivs")).toBe("1");
    const root = readFileSync(`/proc/${pid}/mountinfo`, "utf8")
      .split("\n")
      .find((line) => line.split(" ")[4] === "/");
    expect(root?.split(" ")[5]?.split(",")).toContain("ro");
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, 3)).toEqual([
      ...imageConfig(builtImage()).config.Entrypoint!,
      "run",
    ]);
  });

  it("on SIGTERM exits 0 within the grace period and hands the lease back", async () => {
    const graceMs = deployment.spec.template.spec.terminationGracePeriodSeconds * 1000;
    const stopping = Date.now();
    await container.signal("TERM");
    const code = await Promise.race([
      container.exited,
      new Promise<"timeout">((r) => setTimeout(() => r("timeout"), graceMs)),
    ]);
    expect(code).toBe(0);
    console.log(`[image] SIGTERM -> exit: ${Date.now() - stopping} ms`);
    const lease = await getJson<{ spec: { holderIdentity?: string } }>(cluster, [
      "lease",
      "bird-operator",
      "-n",
      operatorNamespace,
    ]);
    expect(lease.spec.holderIdentity ?? "").toBe("");
  });
});

/**
 * The runtime spec a kubelet would produce from the Deployment's container,
 * on top of the one umoci derived from the image.
 */
function podSpec(
  bundle: Bundle,
  deployment: Deployment,
  pod: {
    podName: string;
    namespace: string;
    serviceAccountDir: string;
    env: Record<string, string>;
    addresses: { health: string; metrics: string };
  },
): RuntimeSpec {
  const base = bundle.spec;
  const container = deployment.spec.template.spec.containers[0]!;
  const fieldRefs: Record<string, string> = { "metadata.namespace": pod.namespace, "metadata.name": pod.podName };
  const env = new Map(
    base.process.env.map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)] as const),
  );
  env.set("HOSTNAME", pod.podName);
  for (const variable of container.env) {
    const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
    env.set(variable.name, variable.value ?? (fieldPath ? (fieldRefs[fieldPath] ?? "") : ""));
  }
  for (const [name, value] of Object.entries(pod.env)) env.set(name, value);
  // Kubernetes expands $(VAR) in args from the container's environment.
  const args = container.args
    .map((arg) => arg.replace(/\$\(([A-Z_]+)\)/g, (_, name: string) => env.get(name) ?? ""))
    .map((arg) => (arg.startsWith("--health-address=") ? `--health-address=${pod.addresses.health}` : arg))
    .map((arg) => (arg.startsWith("--metrics-address=") ? `--metrics-address=${pod.addresses.metrics}` : arg));
  const security = container.securityContext;
  const dropAll = security.capabilities.drop.includes("ALL");
  return {
    ...base,
    hostname: pod.podName,
    process: {
      ...base.process,
      args: [...bundle.entrypoint, ...args],
      env: [...env].map(([name, value]) => `${name}=${value}`),
      user: { uid: security.runAsUser, gid: security.runAsGroup },
      capabilities: dropAll
        ? { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] }
        : base.process.capabilities,
      noNewPrivileges: !security.allowPrivilegeEscalation,
    },
    root: { ...base.root, readonly: security.readOnlyRootFilesystem },
    mounts: [
      ...base.mounts,
      { destination: SERVICE_ACCOUNT_DIR, type: "bind", source: pod.serviceAccountDir, options: ["rbind", "ro"] },
    ],
    linux: {
      ...base.linux,
      // Shares the host's network: the API server and the simulator are on its loopback.
      namespaces: base.linux.namespaces.filter((ns) => ns.type !== "network"),
      resources: { ...base.linux.resources, memory: { limit: memoryBytes(container.resources.limits?.memory) } },
    },
  };
}

function memoryBytes(quantity: string | undefined): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity ?? "");
  if (!match) throw new Error(`unexpected memory limit ${quantity}`);
  return Number(match[1]) * (match[2] === "Gi" ? 1024 ** 3 : 1024 ** 2);
}

function kubeconfigCluster(path: string): { server: string; "certificate-authority-data": string } {
  const raw = JSON.parse(readFileSync(path, "utf8")) as {
    clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
  };
  return raw.clusters[0]!.cluster;
}

function clusterServer(path: string): string {
  return kubeconfigCluster(path).server;
}

function clusterCa(path: string): string {
  return kubeconfigCluster(path)["certificate-authority-data"];
}
