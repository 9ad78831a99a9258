import type { Money } from "../bird/money.js";

/**
 * What `bird-operator plan -o json` prints. docs/plan.md documents every field and docs/plan.schema.json is the JSON
 * Schema of this shape (test/e2e/plan.test.ts checks real plans against it).
 */
export interface Plan {
  apiVersion: typeof PLAN_API_VERSION;
  kind: "Plan";
  generatedAt: string;
  /** The API server the plan was made against. */
  server: string;
  prune: boolean;
  summary: PlanSummary;
  resources: ResourcePlan[];
  workspaces: WorkspacePlan[];
  /** Everything the API server or the operator would refuse, from resources and workspaces. */
  violations: Violation[];
  /** What the plan could not check, and why (e.g. no permission for the API server's dry run). */
  warnings: string[];
  /** What stopped the plan from being complete; any error makes the exit code 1. */
  errors: string[];
}

export const PLAN_API_VERSION = "plan.birdoperator.dev/v1alpha1";

export interface PlanSummary {
  /** Resources with a Kubernetes change or a Bird action. */
  changes: number;
  purchases: number;
  adoptions: number;
  claims: number;
  /** Destination countries to activate and deactivate. */
  activations: number;
  deactivations: number;
  cancellations: number;
  releases: number;
  violations: number;
}

export type Operation = "create" | "update" | "delete" | "none";

export interface ResourcePlan {
  kind: "PhoneNumber" | "AlphaSender";
  namespace: string;
  name: string;
  workspace: string;
  operation: Operation;
  /** Top-level spec fields that change (update only). */
  changedFields: string[];
  apiServer: ApiServerCheck;
  /** The deletion policy in effect (spec, else the workspace's defaultDeletionPolicy, else Retain). */
  deletionPolicy?: "Delete" | "Retain";
  actions: Action[];
  /** Refusals and waits the operator would report on the resource (its Ready reason and message). */
  problems: Problem[];
  /** What else a reviewer should know: what is not done, and why. */
  notes: string[];
}

export interface ApiServerCheck {
  /**
   * accepted: the server-side dry run passed; refused: the API server would refuse the change; skipped: not checked.
   */
  dryRun: "accepted" | "refused" | "skipped";
  message?: string;
}

export interface Problem {
  /**
   * The condition reason the operator would set, e.g. QuotaExceeded,
   * Forbidden, NumberConflict; or Invalid for the API server.
   */
  reason: string;
  message: string;
  /** violation: refused (counts for --fail-on-violation); waiting: not done yet, retried by the operator. */
  severity: "violation" | "waiting";
}

export type Action =
  | BuyAction
  | AdoptAction
  | TakeOverAction
  | ClaimSenderAction
  | ActivateAction
  | DeactivateAction
  | CancelAction
  | ReleaseAction
  | ForgetAction;

interface ActionBase {
  /** One sentence for people. */
  description: string;
}

export interface BuyAction extends ActionBase {
  type: "buy";
  numberString: string;
  stockItemId: string;
  countryCode: string;
  numberType: string;
  monthlyPrice: Money;
  /** The BirdNumber record the purchase is claimed in. */
  record: string;
}

export interface AdoptAction extends ActionBase {
  type: "adopt";
  numberString: string;
  numberId: string;
  record: string;
  /** The number's `main` subscription price, when Bird reports one. */
  monthlyPrice?: Money;
}

export interface TakeOverAction extends ActionBase {
  type: "take-over";
  record: string;
  /** The number or sender, as people know it. */
  target: string;
  from: "free" | "reserved" | "released" | "bound-again";
}

export interface ClaimSenderAction extends ActionBase {
  type: "claim-sender";
  record: string;
  alphaString: string;
}

export interface ActivateAction extends ActionBase {
  type: "activate";
  capability: string;
  countries: string[];
  /** accepted: Bird's validate=true call accepted it; after-purchase: the number does not exist yet to ask about. */
  validation: "accepted" | "after-purchase";
  /** Monthly prices Bird quoted per country (alpha senders; long code numbers pay through `main`). */
  prices?: Record<string, Money>;
}

export interface DeactivateAction extends ActionBase {
  type: "deactivate";
  capability: string;
  countries: string[];
}

export interface CancelAction extends ActionBase {
  type: "cancel-subscription";
  endpointId: string;
  /** `main` for a long code number, the country code for a sender's country. */
  subscription: string;
  /** The number or sender. */
  target: string;
  monthlyPrice?: Money;
}

export interface ReleaseAction extends ActionBase {
  type: "release";
  record: string;
  target: string;
  /** Why it is kept: deletionPolicy Retain, managementPolicy ObserveOnly, or a namespace no longer admitted. */
  why: string;
}

/** A Lost record removed on deletion: the number had left the workspace, nothing is cancelled. */
export interface ForgetAction extends ActionBase {
  type: "forget-record";
  record: string;
}

export interface WorkspacePlan {
  name: string;
  numbers: { before: number; after: number; max?: number };
  monthlySpend: { before: Money; after: Money; max?: Money; uncounted?: string };
  policy: {
    allowedCountries?: string[];
    maxPricePerNumber?: Money;
    allowedNamespaces?: { names?: string[]; selector?: unknown };
    defaultDeletionPolicy: "Delete" | "Retain";
  };
  /** Why resources may not use it now (not Ready, duplicate, being deleted), if so. */
  unusable?: string;
}

export interface Violation {
  /** `namespace/name` of the resource, or `BirdWorkspace/<name>`. */
  object: string;
  kind: string;
  reason: string;
  message: string;
}
