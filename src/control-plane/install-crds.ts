import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ApiextensionsV1Api,
  ApiException,
  CustomObjectsApi,
  type KubeConfig,
  type V1CustomResourceDefinition,
} from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { KubeHttp } from "../runtime/kube-http.js";

/** Creates or replaces every CRD in `dir` and waits until each is Established and served by discovery. */
export async function installCrds(kc: KubeConfig, dir: string): Promise<string[]> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const http = new KubeHttp(kc);
  const crds = readCrds(dir);
  for (const crd of crds) await createOrReplace(http, crd);
  const deadline = Date.now() + 30_000;
  for (const crd of crds) {
    const name = crd.metadata?.name ?? "";
    for (;;) {
      const current = await api.readCustomResourceDefinition({ name });
      const established = current.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
      if (established && (await isServed(kc, crd))) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not established after 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  http.close();
  return crds.map((crd) => crd.metadata?.name ?? "");
}

export function readCrds(dir: string): V1CustomResourceDefinition[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith(".yaml") && file !== "kustomization.yaml")
    .sort()
    .flatMap((file) => parseAllDocuments(readFileSync(join(dir, file), "utf8")).map((doc) => doc.toJS() as unknown))
    .filter(
      (doc): doc is V1CustomResourceDefinition =>
        (doc as { kind?: string } | null)?.kind === "CustomResourceDefinition",
    );
}

/**
 * Sent as raw JSON: client-node's typed models know `enum`, `default` and `x-kubernetes-*` only under their
 * TypeScript names and would silently drop them from a parsed YAML body.
 */
async function createOrReplace(http: KubeHttp, crd: V1CustomResourceDefinition): Promise<void> {
  const path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  try {
    await http.request({ method: "POST", path, body: crd });
  } catch (error) {
    if (!(error instanceof ApiException) || error.code !== 409) throw error;
    const name = crd.metadata?.name ?? "";
    const current = await http.request<V1CustomResourceDefinition>({ method: "GET", path: `${path}/${name}` });
    const body = { ...crd, metadata: { ...crd.metadata, resourceVersion: current.metadata?.resourceVersion } };
    await http.request({ method: "PUT", path: `${path}/${name}`, body });
  }
}

/** Discovery lags behind Established for a moment; listing the resource proves it is served. */
async function isServed(kc: KubeConfig, crd: V1CustomResourceDefinition): Promise<boolean> {
  const version = crd.spec.versions.find((v) => v.served)?.name ?? "";
  const api = kc.makeApiClient(CustomObjectsApi);
  try {
    await api.listClusterCustomObject({ group: crd.spec.group, version, plural: crd.spec.names.plural, limit: 1 });
    return true;
  } catch {
    return false;
  }
}
