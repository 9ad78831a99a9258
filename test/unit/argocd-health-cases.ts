/**
 * The cases both health-script tests run: with fengari (a Lua VM in JavaScript, fast) and with gopher-lua, the VM Argo
 * CD itself runs (argocd-health-gopher-lua.test.ts). One table, so the two cannot drift apart.
 */

export interface Health {
  status: string;
  message: string;
}

export interface ConditionInput {
  type: "Ready" | "Synced";
  status: "True" | "False";
  reason: string;
  message?: string;
  observedGeneration?: number;
}

export function resource(
  kind: string,
  options: { generation?: number; deleting?: boolean; status?: Record<string, unknown> | null },
): Record<string, unknown> {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind,
    metadata: {
      name: "example",
      ...(kind === "BirdWorkspace" ? {} : { namespace: "team-a" }),
      generation: options.generation ?? 2,
      ...(options.deleting
        ? { deletionTimestamp: "2025-01-01T00:00:00Z", finalizers: ["numbers.birdoperator.dev/finalizer"] }
        : {}),
    },
    spec: {},
    ...(options.status === null ? {} : { status: options.status }),
  };
}

export function conditions(generation: number, ...list: ConditionInput[]): Record<string, unknown> {
  return {
    observedGeneration: generation,
    conditions: list.map((c) => ({
      lastTransitionTime: "2025-01-01T00:00:00Z",
      message: "",
      observedGeneration: generation,
      ...c,
    })),
  };
}

export const ready = (reason = "Available", message = "+31612345678 is provisioned"): ConditionInput => ({
  type: "Ready",
  status: "True",
  reason,
  message,
});
export const notReady = (reason: string, message = `${reason} happened`): ConditionInput => ({
  type: "Ready",
  status: "False",
  reason,
  message,
});
export const synced = (): ConditionInput => ({ type: "Synced", status: "True", reason: "ReconcileSuccess" });
export const notSynced = (reason: string, message = `${reason} happened`): ConditionInput => ({
  type: "Synced",
  status: "False",
  reason,
  message,
});

export interface Case {
  reason: string;
  status?: Record<string, unknown> | null;
  generation?: number;
  deleting?: boolean;
  want: Health | { status: string; message: RegExp };
}

/** Every shape of status the operator writes, and one or two it must never be confused by. */
export const cases: Case[] = [
  {
    reason: "a new resource has no status yet",
    status: null,
    want: { status: "Progressing", message: "Waiting for the operator to report status" },
  },
  {
    reason: "a status without conditions is not a verdict",
    status: { observedGeneration: 2 },
    want: { status: "Progressing", message: "Waiting for the operator to report status" },
  },
  {
    reason: "an empty condition list is not a verdict",
    status: { observedGeneration: 2, conditions: [] },
    want: { status: "Progressing", message: "Waiting for the operator to report status" },
  },
  {
    reason: "a deleting resource is Progressing even while Ready: the finalizer is still releasing the number",
    deleting: true,
    status: conditions(2, ready(), synced()),
    want: { status: "Progressing", message: /^Deleting/ },
  },
  {
    reason:
      "a deleting resource whose cleanup fails is still Progressing: the operator retries and keeps the finalizer",
    deleting: true,
    status: conditions(2, notReady("Deleting", "deleting"), notSynced("ReconcileError", "Bird answered 503")),
    want: { status: "Progressing", message: /^Deleting/ },
  },
  {
    reason: "Ready for the current generation is Healthy",
    status: conditions(2, ready(), synced()),
    want: { status: "Healthy", message: "+31612345678 is provisioned" },
  },
  {
    reason: "status written for an older generation: the new spec is not reconciled yet",
    generation: 3,
    status: conditions(2, ready(), synced()),
    want: { status: "Progressing", message: "Waiting for the operator to reconcile generation 3" },
  },
  {
    reason: "a permanent failure of an older generation does not hide that the new spec is being reconciled",
    generation: 3,
    status: conditions(2, notReady("PolicyViolation"), notSynced("PolicyViolation")),
    want: { status: "Progressing", message: "Waiting for the operator to reconcile generation 3" },
  },
  {
    reason: "Ready True but written for an older generation is not Healthy",
    status: {
      observedGeneration: 2,
      conditions: [
        { ...ready(), observedGeneration: 1 },
        { ...synced(), observedGeneration: 2 },
      ],
    },
    want: { status: "Progressing", message: "Waiting for the Ready condition of generation 2" },
  },
  {
    reason: "a permanent reason on a condition of an older generation is not Degraded",
    status: { observedGeneration: 2, conditions: [{ ...notReady("PolicyViolation"), observedGeneration: 1 }] },
    want: { status: "Progressing", message: "Waiting for the Ready condition of generation 2" },
  },
  {
    reason: "no Ready condition yet",
    status: conditions(2, synced()),
    want: { status: "Progressing", message: "Waiting for the Ready condition of generation 2" },
  },
  {
    reason: "a transient failure keeps a working number Healthy, and says so",
    status: conditions(2, ready(), notSynced("BirdUnreachable", "cannot reach Bird")),
    want: {
      status: "Healthy",
      message: "+31612345678 is provisioned (last sync failed, retrying: BirdUnreachable: cannot reach Bird)",
    },
  },
  {
    reason: "a permanent Synced failure is Degraded even while Ready is True",
    status: conditions(2, ready(), notSynced("PolicyViolation", "country XX is not in spec.policy.allowedCountries")),
    want: { status: "Degraded", message: "PolicyViolation: country XX is not in spec.policy.allowedCountries" },
  },
  {
    reason: "Ready False alone with a permanent reason is Degraded",
    status: conditions(2, notReady("PriceAboveLimit", "no number in stock within the price limit")),
    want: { status: "Degraded", message: "PriceAboveLimit: no number in stock within the price limit" },
  },
  {
    reason: "Synced is reported first when both are False",
    status: conditions(2, notReady("SecretNotFound", "ready says"), notSynced("SecretNotFound", "synced says")),
    want: { status: "Degraded", message: "SecretNotFound: synced says" },
  },
  {
    reason: "a reason without a message is shown alone",
    status: conditions(2, notReady("Provisioning", "")),
    want: { status: "Progressing", message: "Provisioning" },
  },
  {
    reason: "a reason the script does not know waits rather than alarms",
    status: conditions(2, notReady("SomethingNew", "new in a later operator")),
    want: { status: "Progressing", message: "SomethingNew: new in a later operator" },
  },
];

/**
 * The verdict for Ready=False (and Synced=False) with each reason the operator writes. Keyed by every Reason, so a
 * reason added to src/api/v1alpha1/conditions.ts fails here until someone decides how Argo CD shows it.
 */
export const verdicts: Record<string, "Degraded" | "Progressing" | "never False"> = {
  // Permanent: the operator stops retrying until the spec or the credentials change.
  PolicyViolation: "Degraded",
  PriceAboveLimit: "Degraded",
  Forbidden: "Degraded",
  NumberLost: "Degraded",
  CannotPurchase: "Degraded",
  SenderConflict: "Degraded",
  NumberConflict: "Degraded",
  Unauthorized: "Degraded",
  PermissionDenied: "Degraded",
  SecretNotFound: "Degraded",
  KeyNotFound: "Degraded",
  DestinationUnavailable: "Degraded",
  // Polled, but nothing changes until a person acts.
  NumberUnavailable: "Degraded",
  QuotaExceeded: "Degraded",
  WorkspaceNotFound: "Degraded",
  BirdIssues: "Degraded",
  SubscriptionInactive: "Degraded",
  SenderNotFound: "Degraded",
  CountryBlocked: "Degraded",
  CountryUnavailable: "Degraded",
  StatusRejected: "Degraded",
  UnknownProvisioningStatus: "Degraded",
  DuplicateWorkspace: "Degraded",
  InUse: "Degraded",
  // The operator gets there by itself.
  Creating: "Progressing",
  Provisioning: "Progressing",
  PurchasePending: "Progressing",
  DestinationsPending: "Progressing",
  Deleting: "Progressing",
  WorkspaceNotReady: "Progressing",
  BirdUnreachable: "Progressing",
  ReconcileError: "Progressing",
  // Reasons of True conditions.
  Available: "never False",
  ReconcileSuccess: "never False",
  ObserveOnly: "never False",
};

/** Reasons a False Ready or Synced condition can carry, with the health each must give. */
export const falseReasons = Object.entries(verdicts).filter(([, verdict]) => verdict !== "never False") as [
  string,
  "Degraded" | "Progressing",
][];
