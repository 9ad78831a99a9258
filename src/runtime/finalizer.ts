import type { KubernetesObject } from "@kubernetes/client-node";
import { JSON_PATCH, type JsonPatchOp, type ResourceClient } from "./resource-client.js";

export type FinalizerEvent<T> = { type: "apply"; object: T } | { type: "cleanup"; object: T };

/**
 * kube-rs' finalizer helper: the finalizer is in place before `apply` may touch the outside world, and is removed
 * only after `cleanup` returned without throwing. Patches are guarded by a JSON Patch `test` on the current list,
 * so a concurrent change to the finalizers fails with a conflict instead of being overwritten.
 *
 * `handlerAdds`: `apply` runs without the finalizer and adds it itself before its first outside write (in a
 * metadata update it makes anyway, or with `addFinalizer`), which saves a write per object.
 */
export async function withFinalizer<T extends KubernetesObject, R>(
  client: ResourceClient<T>,
  finalizer: string,
  object: T,
  handler: (event: FinalizerEvent<T>) => Promise<R>,
  options: { handlerAdds?: boolean } = {},
): Promise<R | undefined> {
  const finalizers = object.metadata?.finalizers ?? [];
  const has = finalizers.includes(finalizer);
  if (object.metadata?.deletionTimestamp) {
    if (!has) return undefined;
    const result = await handler({ type: "cleanup", object });
    await setFinalizers(client, object, finalizers.filter((f) => f !== finalizer));
    return result;
  }
  const current = has || options.handlerAdds ? object : await setFinalizers(client, object, [...finalizers, finalizer]);
  return handler({ type: "apply", object: current });
}

/** Adds the finalizer unless the object has it (for handlers run with `handlerAdds`). */
export async function addFinalizer<T extends KubernetesObject>(client: ResourceClient<T>, finalizer: string, object: T): Promise<T> {
  const finalizers = object.metadata?.finalizers ?? [];
  return finalizers.includes(finalizer) ? object : setFinalizers(client, object, [...finalizers, finalizer]);
}

async function setFinalizers<T extends KubernetesObject>(client: ResourceClient<T>, object: T, next: string[]): Promise<T> {
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
