import type { V1Namespace } from "@kubernetes/client-node";
import type { AlphaSender, BirdWorkspace, PhoneNumber } from "../api/v1alpha1/index.js";
import type { OwnershipRecord } from "../ownership/records.js";
import { objectKey, type Informer } from "../runtime/informer.js";

/** Watch mappers shared by the PhoneNumber and AlphaSender controllers: which claims a related change concerns. */

/** A namespace's labels decide admission: a new namespace or a label change wakes every claim in it. */
export function claimsInNamespace<T extends PhoneNumber | AlphaSender>(
  claims: Informer<T>,
  namespace: V1Namespace,
  old: V1Namespace | undefined,
): string[] {
  if (old && JSON.stringify(old.metadata?.labels ?? {}) === JSON.stringify(namespace.metadata?.labels ?? {})) return [];
  return claims
    .list()
    .filter((o) => o.metadata?.namespace === namespace.metadata?.name)
    .map((o) => objectKey(o));
}

export function claimsOfWorkspace<T extends PhoneNumber | AlphaSender>(
  claims: Informer<T>,
  workspace: BirdWorkspace,
  old: BirdWorkspace | undefined,
): string[] {
  if (!workspaceChangedForDependents(workspace, old)) return [];
  return claims
    .list()
    .filter((o) => o.spec.workspaceRef.name === workspace.metadata?.name)
    .map((o) => objectKey(o));
}

/** The claim an ownership record names as its holder, if any. */
export function holderOf(record: OwnershipRecord): string[] {
  return record.spec.claimRef?.name ? [`${record.spec.claimRef.namespace}/${record.spec.claimRef.name}`] : [];
}

/**
 * Numbers and senders care about a workspace's spec, readiness and existence, not its counts: a status update that
 * only recounts (every few seconds while provisioning) must not wake every resource of the workspace.
 */
export function workspaceChangedForDependents(current: BirdWorkspace, old: BirdWorkspace | undefined): boolean {
  if (!old) return true;
  const ready = (ws: BirdWorkspace): string | undefined => {
    const c = ws.status?.conditions?.find((x) => x.type === "Ready");
    return c ? `${c.status}/${c.reason}` : undefined;
  };
  return (
    old.metadata?.generation !== current.metadata?.generation ||
    ready(old) !== ready(current) ||
    old.metadata?.deletionTimestamp !== current.metadata?.deletionTimestamp
  );
}
