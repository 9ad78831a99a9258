import type { KubernetesObject } from "@kubernetes/client-node";
import { JSON_PATCH, type JsonPatchOp, type ResourceClient } from "./resource-client.js";

export function hasFinalizer(object: KubernetesObject, finalizer: string): boolean {
  return object.metadata?.finalizers?.includes(finalizer) ?? false;
}

/** Adds the finalizer unless the object has it. Callers add it before their first outside write, never earlier. */
export async function addFinalizer<T extends KubernetesObject>(
  client: ResourceClient<T>,
  finalizer: string,
  object: T,
): Promise<T> {
  const finalizers = object.metadata?.finalizers ?? [];
  return finalizers.includes(finalizer) ? object : setFinalizers(client, object, [...finalizers, finalizer]);
}

/** Removes the finalizer. Callers do so only once cleanup said it is done (kube-rs' finalizer helper). */
export async function removeFinalizer<T extends KubernetesObject>(
  client: ResourceClient<T>,
  finalizer: string,
  object: T,
): Promise<T> {
  const finalizers = object.metadata?.finalizers ?? [];
  return finalizers.includes(finalizer)
    ? setFinalizers(
        client,
        object,
        finalizers.filter((f) => f !== finalizer),
      )
    : object;
}

/**
 * Patches are guarded by a JSON Patch `test` on the current list, so a concurrent change to the finalizers fails with
 * a conflict instead of being overwritten.
 */
async function setFinalizers<T extends KubernetesObject>(
  client: ResourceClient<T>,
  object: T,
  next: string[],
): Promise<T> {
  const current = object.metadata?.finalizers;
  const ops: JsonPatchOp[] = current
    ? [
        { op: "test", path: "/metadata/finalizers", value: current },
        { op: "replace", path: "/metadata/finalizers", value: next },
      ]
    : [
        { op: "test", path: "/metadata/resourceVersion", value: object.metadata?.resourceVersion },
        { op: "add", path: "/metadata/finalizers", value: next },
      ];
  return client.patch(object.metadata?.namespace, object.metadata?.name ?? "", ops, JSON_PATCH);
}
