import type { KubernetesObject } from "@kubernetes/client-node";

/**
 * Whether `a` is a later version of the same object (same uid) than `b`. resourceVersions are etcd revisions, compared
 * as numbers; where one is not a number, neither counts as later: the cache is trusted once it shows the object.
 */
export function newerVersion(a: KubernetesObject, b: KubernetesObject): boolean {
  if (a.metadata?.uid !== b.metadata?.uid) return false;
  return (compareRevisions(a.metadata?.resourceVersion, b.metadata?.resourceVersion) ?? 0) > 0;
}

/** Whether revision `a` is `b` or later; a missing one, or one that is not a number, never is. */
export function revisionAtLeast(a: string | undefined, b: string): boolean {
  return (compareRevisions(a, b) ?? -1) >= 0;
}

/** The sign of `a` - `b` as etcd revisions; undefined when either is missing or not a number. */
function compareRevisions(a: string | undefined, b: string | undefined): number | undefined {
  if (a === undefined || b === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  const [x, y] = [BigInt(a), BigInt(b)];
  return x === y ? 0 : x > y ? 1 : -1;
}
