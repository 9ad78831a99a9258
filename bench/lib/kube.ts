import { ApiException } from "@kubernetes/client-node";
import { CRD_BASE, type BenchCluster } from "./cluster.js";
import { pool } from "./util.js";
import type { Manifest } from "./workload.js";

/** In-flight requests of the bench's own client: the size of KubeHttp's keep-alive pool. */
export const KUBE_CONCURRENCY = 32;

export function collectionPath(kind: string, namespace: string): string {
  return `${CRD_BASE}/namespaces/${namespace}/${kind.toLowerCase()}s`;
}

export interface CreateTiming {
  /** When the first create was sent (ms since epoch). */
  firstAt: number;
  /** When the last create was answered. */
  lastAt: number;
  count: number;
}

/**
 * Creates every object with parallel POSTs over one keep-alive pool (what `kubectl apply` of a big file would do if it
 * were not sequential). Retries a create only on 429/5xx/connection errors; an AlreadyExists is a bug in the bench.
 */
export async function createAll(
  cluster: BenchCluster,
  manifests: readonly Manifest[],
  concurrency = KUBE_CONCURRENCY,
): Promise<CreateTiming> {
  const firstAt = Date.now();
  await pool(manifests, concurrency, (manifest) =>
    retried(() =>
      cluster.http.request({
        method: "POST",
        path: collectionPath(manifest.kind, manifest.metadata.namespace),
        body: manifest,
      }),
    ),
  );
  return { firstAt, lastAt: Date.now(), count: manifests.length };
}

function statusCode(error: unknown): number {
  return error instanceof ApiException ? error.code : 0;
}

/** Runs one request, again on 429/5xx/connection errors (at most 5 retries, 200 ms more each time). */
export async function retried<T>(request: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await request(attempt);
    } catch (error) {
      const code = statusCode(error);
      if (attempt >= 5 || (code !== 0 && code !== 429 && code < 500)) throw error;
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
}

/**
 * POSTs one object to its collection and answers what the API server stored. A retried create that finds the object
 * (the first attempt was stored, its answer lost) reads it instead; an AlreadyExists on the first attempt is a bug.
 */
export function createObject<T>(
  cluster: BenchCluster,
  collection: string,
  body: { metadata: { name: string } },
): Promise<T> {
  return retried(async (attempt) => {
    try {
      return await cluster.http.request<T>({ method: "POST", path: collection, body });
    } catch (error) {
      if (attempt === 0 || statusCode(error) !== 409) throw error;
      return cluster.http.request<T>({ method: "GET", path: `${collection}/${body.metadata.name}` });
    }
  });
}

/** Writes `status` through the object's status subresource (a merge patch, as the operator's status writes are). */
export function patchStatus(cluster: BenchCluster, objectPath: string, status: unknown): Promise<unknown> {
  return retried(() =>
    cluster.http.request({
      method: "PATCH",
      path: `${objectPath}/status`,
      contentType: "application/merge-patch+json",
      body: { status },
    }),
  );
}
