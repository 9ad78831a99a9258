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
  await pool(manifests, concurrency, async (manifest) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await cluster.http.request({
          method: "POST",
          path: collectionPath(manifest.kind, manifest.metadata.namespace),
          body: manifest,
        });
      } catch (error) {
        const code = error instanceof ApiException ? error.code : 0;
        if (attempt >= 5 || (code !== 0 && code !== 429 && code < 500)) throw error;
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
  });
  return { firstAt, lastAt: Date.now(), count: manifests.length };
}
