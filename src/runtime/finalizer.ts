import type { KubernetesObject } from "@kubernetes/client-node";
// The error class alone: client-node's index would load every generated API model.
import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";
import { isApiStatus } from "./errors.js";
import { JSON_PATCH, type JsonPatchOp, type ResourceClient } from "./resource-client.js";

export function hasFinalizer(object: KubernetesObject, finalizer: string): boolean {
  return object.metadata?.finalizers?.includes(finalizer) ?? false;
}

/**
 * Adds the finalizer unless the object has it, to the version read or not at all: a JSON Patch `test` on the
 * resourceVersion makes any change since then (another replica added it and claimed, the spec changed) fail with a
 * conflict, so the caller decides again on what is there now. It is added at the end of the list, which need not be
 * known whole (a cache may hold a stand-in for a long one: InformerOptions.capFinalizers). Callers add it before their
 * first outside write, never earlier.
 */
export async function addFinalizer<T extends KubernetesObject>(
  client: ResourceClient<T>,
  finalizer: string,
  object: T,
): Promise<T> {
  const finalizers = object.metadata?.finalizers ?? [];
  if (finalizers.includes(finalizer)) return object;
  const ops: JsonPatchOp[] = [
    { op: "test", path: "/metadata/resourceVersion", value: object.metadata?.resourceVersion },
    finalizers.length
      ? { op: "add", path: "/metadata/finalizers/-", value: finalizer }
      : { op: "add", path: "/metadata/finalizers", value: [finalizer] },
  ];
  try {
    return await client.patch(object.metadata?.namespace, object.metadata?.name ?? "", ops, JSON_PATCH);
  } catch (error) {
    return await conflictOr(error, client, object);
  }
}

/**
 * Removes the finalizer. Callers do so only once cleanup said it is done (kube-rs' finalizer helper). The patch tests
 * the list it was decided on; when that fails (the list changed, or the cache held a stand-in for a long list), the
 * object is read once more and the finalizer removed from its list as it is now, if it is still the same object.
 */
export async function removeFinalizer<T extends KubernetesObject>(
  client: ResourceClient<T>,
  finalizer: string,
  object: T,
): Promise<T> {
  if (!hasFinalizer(object, finalizer)) return object;
  try {
    return await withoutFinalizer(client, finalizer, object);
  } catch (error) {
    if (!isApiStatus(error, 422)) throw error;
  }
  const current = await client.get(object.metadata?.namespace, object.metadata?.name ?? "");
  if (current.metadata?.uid !== object.metadata?.uid) throw conflict(object, "was replaced by another object");
  if (!hasFinalizer(current, finalizer)) return current;
  try {
    return await withoutFinalizer(client, finalizer, current);
  } catch (error) {
    return await conflictOr(error, client, current);
  }
}

/** The list without the finalizer, guarded by a `test` on the whole list as read. */
function withoutFinalizer<T extends KubernetesObject>(
  client: ResourceClient<T>,
  finalizer: string,
  object: T,
): Promise<T> {
  const current = object.metadata?.finalizers ?? [];
  const ops: JsonPatchOp[] = [
    { op: "test", path: "/metadata/finalizers", value: current },
    { op: "replace", path: "/metadata/finalizers", value: current.filter((f) => f !== finalizer) },
  ];
  return client.patch(object.metadata?.namespace, object.metadata?.name ?? "", ops, JSON_PATCH);
}

/**
 * The API server answers a failed JSON Patch `test` with 422 (Invalid), as it does a write it refuses (a validation
 * rule, an object being deleted): when the object changed since `read`, it is a conflict, retried once the cache shows
 * the change; when it did not, the API server refused the write itself and the 422 stands.
 */
async function conflictOr<T extends KubernetesObject>(
  error: unknown,
  client: ResourceClient<T>,
  read: T,
): Promise<never> {
  if (!isApiStatus(error, 422)) throw error;
  const now = await client.get(read.metadata?.namespace, read.metadata?.name ?? "").catch(() => undefined);
  if (now?.metadata?.resourceVersion !== read.metadata?.resourceVersion)
    throw conflict(read, "changed since it was read");
  throw error;
}

function conflict(object: KubernetesObject, what: string): ApiException<string> {
  const { namespace, name } = object.metadata ?? {};
  const message = `the finalizers of ${namespace ? `${namespace}/` : ""}${name}: the object ${what}`;
  return new ApiException(409, message, message, {});
}
