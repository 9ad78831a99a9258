import type { AlphaSender } from "../api/v1alpha1/index.js";
import { Reason } from "../api/v1alpha1/conditions.js";
import { formatMoney } from "../bird/money.js";
import type { WorkspaceUser } from "../controllers/admission.js";
import { namespaceAllowed } from "../controllers/guardrails.js";
import type { Resolution } from "../workspace/connections.js";
import type { Claimant } from "../ownership/records.js";
import { errorReason } from "../runtime/errors.js";
import type { NamespaceInfo } from "./cluster.js";
import type { Problem, ResourcePlan } from "./types.js";
import type { WorkspaceState } from "./workspace-state.js";

/**
 * What planning one resource reads: the workspaces (and their Bird) as the plan has changed them so far, namespaces.
 */
export interface PlanContext {
  operatorNamespace: string;
  /** Only for the operator's messages ("checking again in ... s"). */
  resyncMs: number;
  workspaces: ReadonlyMap<string, WorkspaceState>;
  namespaces: ReadonlyMap<string, NamespaceInfo>;
  /** Every AlphaSender of the cluster, and the input's new ones: the oldest claimant of a sender goes first. */
  alphaSenders: readonly AlphaSender[];
}

/**
 * A PhoneNumber or AlphaSender to plan: the cluster's object, the object as the input makes it, and the plan to fill.
 */
export interface Change<T> {
  live?: T;
  /** For create and update: the object as the API server's dry run answered it (else as the input has it). */
  desired?: T;
  plan: ResourcePlan;
}

/**
 * Whether the resource may use its workspace, as the operator's Admission decides it: the workspace exists, is usable
 * (Ready, not a duplicate, not being deleted) and admits the namespace (namespaceAllowed, the operator's own check).
 */
export function admit(context: PlanContext, object: WorkspaceUser): Resolution<WorkspaceState> {
  const name = object.spec.workspaceRef.name;
  const workspace = context.workspaces.get(name);
  if (!workspace)
    return {
      ok: false,
      reason: Reason.WorkspaceNotFound,
      message: `BirdWorkspace "${name}" not found: create it, or fix spec.workspaceRef.name`,
    };
  if (!workspace.usable.ok) return workspace.usable;
  return namespaceCheck(context, object);
}

/** Whether the workspace admits the namespace, however usable it is: what deletion asks (Admission.namespaceCheck). */
export function namespaceCheck(context: PlanContext, object: WorkspaceUser): Resolution<WorkspaceState> {
  const name = object.spec.workspaceRef.name;
  const workspace = context.workspaces.get(name);
  if (!workspace) return { ok: false, reason: Reason.WorkspaceNotFound, message: `BirdWorkspace "${name}" not found` };
  const namespace = object.metadata?.namespace ?? "";
  const labels = context.namespaces.get(namespace)?.metadata?.labels ?? {};
  const allowed = namespaceAllowed(workspace.workspace, namespace, context.operatorNamespace, labels);
  return allowed.ok ? { ok: true, value: workspace } : allowed;
}

/** Reasons the operator reports when it refuses (a person must act), as opposed to waiting for something to pass. */
const REFUSALS = new Set<string>([
  Reason.Forbidden,
  Reason.PolicyViolation,
  Reason.PriceAboveLimit,
  Reason.QuotaExceeded,
  Reason.NumberConflict,
  Reason.SenderConflict,
  Reason.DestinationUnavailable,
  Reason.CountryUnavailable,
  Reason.DuplicateWorkspace,
  // The API server's refusals of the change itself.
  "Invalid",
  "DeletionRefused",
]);

export function problem(reason: string, message: string): Problem {
  return { reason, message, severity: REFUSALS.has(reason) ? "violation" : "waiting" };
}

/** A refusal or wait the operator's own functions threw (they carry the condition reason). */
export function problemOf(error: unknown): Problem | undefined {
  const reason = errorReason(error, "");
  return reason && error instanceof Error ? problem(reason, error.message) : undefined;
}

/** The object the claims are made for: its uid when it exists, else one standing for it within this plan. */
export function claimantOf(
  object: { metadata?: { namespace?: string; name?: string; uid?: string } },
  live?: { metadata?: { uid?: string } },
): Claimant {
  const { namespace = "", name = "" } = object.metadata ?? {};
  return { metadata: { namespace, name, uid: live?.metadata?.uid ?? `planned:${namespace}/${name}` } };
}

export function priceText(money: { currencyCode: string; amount: number; exponent: number } | undefined): string {
  return money ? formatMoney(money) : "an unknown price";
}
