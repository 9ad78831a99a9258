import { request } from "node:https";
import { fileURLToPath } from "node:url";
import { KubeConfig } from "@kubernetes/client-node";
import { GROUP, VERSION } from "../../src/api/v1alpha1/index.js";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { KubeHttp } from "../../src/runtime/kube-http.js";
import { isReady } from "../../src/runtime/status.js";
import { fixtureDocs, type Fixture } from "../../test/support/fixtures.js";
import { groupBy, parseMetrics, type Sample } from "./prom.js";
import { pollUntil } from "./util.js";

export const CRD_DIR = fileURLToPath(new URL("../../crds", import.meta.url));
export const CRD_BASE = `/apis/${GROUP}/${VERSION}`;

export interface BenchCluster {
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** Shared keep-alive pool (32 sockets), the same client the operator uses. */
  http: KubeHttp;
  /** Whether this run started the control plane (and so stops it). */
  owned: boolean;
  stop(): Promise<void>;
}

/** The cluster to run against: an existing one (the test suite's) or a fresh etcd + kube-apiserver with the CRDs. */
export async function openCluster(
  kubeconfigPath?: string,
  log: (line: string) => void = () => undefined,
): Promise<BenchCluster> {
  let plane: ControlPlane | undefined;
  if (!kubeconfigPath) {
    const started = Date.now();
    plane = await ControlPlane.start({ crdDir: CRD_DIR, onProgress: log });
    log(`control plane ready at ${plane.server} in ${Date.now() - started} ms`);
  }
  const path = kubeconfigPath ?? plane?.kubeconfigPath ?? "";
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(path);
  const http = new KubeHttp(kubeConfig);
  return {
    kubeconfigPath: path,
    kubeConfig,
    http,
    owned: plane !== undefined,
    stop: async () => {
      http.close();
      await plane?.stop();
    },
  };
}

/** A namespace (also the operator namespace), the AccessKey Secret and a BirdWorkspace pointing at the simulator. */
export async function createFixture(cluster: BenchCluster, simulatorUrl: string, prefix: string): Promise<Fixture> {
  const name = `bench-${prefix}-${Math.random().toString(36).slice(2, 7)}`;
  const { fixture, docs } = fixtureDocs({
    namespace: name,
    workspace: name,
    endpoint: simulatorUrl,
    label: ["bird-operator-bench", name],
  });
  const collection: Record<string, string> = {
    Namespace: "/api/v1/namespaces",
    Secret: `/api/v1/namespaces/${name}/secrets`,
    BirdWorkspace: `${CRD_BASE}/birdworkspaces`,
  };
  for (const doc of docs)
    await cluster.http.request({ method: "POST", path: collection[String(doc.kind)] ?? "", body: doc });
  return fixture;
}

export async function waitWorkspaceReady(cluster: BenchCluster, fixture: Fixture, timeoutMs = 60_000): Promise<void> {
  const ready = await pollUntil(async () => {
    const ws = await cluster.http.request<Parameters<typeof isReady>[0]>({
      method: "GET",
      path: `${CRD_BASE}/birdworkspaces/${fixture.workspace}`,
    });
    return isReady(ws) ? true : undefined;
  }, timeoutMs);
  if (!ready) throw new Error(`BirdWorkspace ${fixture.workspace} did not become Ready within ${timeoutMs} ms`);
}

export async function createNamespace(cluster: BenchCluster, name: string): Promise<void> {
  await cluster.http.request({
    method: "POST",
    path: "/api/v1/namespaces",
    body: { apiVersion: "v1", kind: "Namespace", metadata: { name } },
  });
}

/** kube-apiserver's own /metrics (the admin token may read it): every client's requests, by resource and verb. */
export async function apiserverMetrics(cluster: BenchCluster): Promise<Sample[]> {
  const server = cluster.kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new Error("the kubeconfig has no current cluster");
  const options: Parameters<typeof request>[1] = { method: "GET", headers: { Accept: "text/plain" } };
  await cluster.kubeConfig.applyToHTTPSOptions(options);
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(`${server}/metrics`, options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        res.statusCode === 200
          ? resolve(Buffer.concat(chunks).toString("utf8"))
          : reject(new Error(`/metrics answered ${res.statusCode}`)),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
  return parseMetrics(text);
}

const WRITE_VERBS = ["POST", "PUT", "PATCH", "DELETE", "APPLY"];

/** Mutating requests the API server answered, by `resource[/subresource] VERB`. */
export async function apiserverWrites(cluster: BenchCluster): Promise<Map<string, number>> {
  return (await apiserverRequests(cluster)).writes;
}

/**
 * Every request the API server answered, from one scrape of its /metrics, by `resource[/subresource] VERB`: writes,
 * and reads (GET, LIST, WATCH), its work beyond the writes.
 */
export async function apiserverRequests(
  cluster: BenchCluster,
): Promise<{ writes: Map<string, number>; reads: Map<string, number> }> {
  const samples = (await apiserverMetrics(cluster)).filter((s) => s.name === "apiserver_request_total");
  const isWrite = (s: Sample): boolean => WRITE_VERBS.includes(s.labels.verb ?? "");
  return {
    writes: byResourceAndVerb(samples.filter(isWrite)),
    reads: byResourceAndVerb(samples.filter((s) => !isWrite(s))),
  };
}

function byResourceAndVerb(samples: Sample[]): Map<string, number> {
  const relabelled = samples.map((s) => ({
    ...s,
    labels: {
      ...s.labels,
      what: s.labels.subresource ? `${s.labels.resource}/${s.labels.subresource}` : (s.labels.resource ?? ""),
    },
  }));
  return groupBy(relabelled, "apiserver_request_total", ["what", "verb"]);
}
