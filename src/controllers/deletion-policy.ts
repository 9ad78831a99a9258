import { Reason } from "../api/v1alpha1/conditions.js";
import type { BirdWorkspace, DeletionPolicy } from "../api/v1alpha1/index.js";
import type { Resolution } from "../workspace/connections.js";

/** The deletion policy in effect: the resource's own, else its workspace's default, else Retain (nothing is lost). */
export function effectiveDeletionPolicy(
  object: { spec: { deletionPolicy?: DeletionPolicy }; status?: { deletionPolicy?: DeletionPolicy } },
  workspace: BirdWorkspace | undefined,
): DeletionPolicy {
  // Without the workspace (deleted meanwhile), the policy last shown in status is what the user saw and accepted.
  return (
    object.spec.deletionPolicy ?? workspace?.spec.defaultDeletionPolicy ?? object.status?.deletionPolicy ?? "Retain"
  );
}

/**
 * Why deleting a PhoneNumber or AlphaSender keeps what it holds instead of cancelling it; undefined when it cancels.
 * ObserveOnly, Retain, and a namespace the workspace no longer admits all keep. `namespaceCheck` answers for the
 * namespace alone, whether or not the workspace is Ready (Admission.namespaceCheck). Exported for `bird-operator plan`.
 */
export function deletionKeepReason(
  object: { spec: { managementPolicy?: string; workspaceRef: { name: string } } },
  policy: string,
  namespaceCheck: () => Resolution<unknown>,
): string | undefined {
  if (object.spec.managementPolicy === "ObserveOnly") return "managementPolicy ObserveOnly";
  if (policy === "Retain") return "deletionPolicy Retain";
  const admitted = namespaceCheck();
  if (!admitted.ok && admitted.reason === Reason.Forbidden)
    return `the namespace may no longer use BirdWorkspace "${object.spec.workspaceRef.name}"`;
  return undefined;
}
