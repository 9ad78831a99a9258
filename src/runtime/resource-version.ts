import type { KubernetesObject } from "@kubernetes/client-node";

/**
 * Whether `a` is a later version of the same object (same uid) than `b`. resourceVersions are etcd revisions, compared
 * as numbers; where one is not a number, neither counts as later: the cache is trusted once it shows the object.
 */
export function newerVersion(a: KubernetesObject, b: KubernetesObject): boolean {
  if (a.metadata?.uid !== b.metadata?.uid) return false;
  const [x, y] = [a.metadata?.resourceVersion ?? "", b.metadata?.resourceVersion ?? ""];
  if (/^\d+$/.test(x) && /^\d+$/.test(y)) return BigInt(x) > BigInt(y);
  return false;
}

/** Whether revision `a` is `b` or later; a missing one, or one that is not a number, never is. */
export function revisionAtLeast(a: string | undefined, b: string): boolean {
  return a !== undefined && /^\d+$/.test(a) && /^\d+$/.test(b) && BigInt(a) >= BigInt(b);
}
