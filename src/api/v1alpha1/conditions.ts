/** Condition types every kind reports. */
export const READY = "Ready";
export const SYNCED = "Synced";

/**
 * Every condition reason the operator writes, in one place (the README explains each). PascalCase, as
 * metav1.Condition requires.
 */
export const Reason = {
  Available: "Available",
  Creating: "Creating",
  Provisioning: "Provisioning",
  Deleting: "Deleting",
  ReconcileSuccess: "ReconcileSuccess",
  ReconcileError: "ReconcileError",
  NumberUnavailable: "NumberUnavailable",
  NumberLost: "NumberLost",
  NumberConflict: "NumberConflict",
  PriceAboveLimit: "PriceAboveLimit",
  PolicyViolation: "PolicyViolation",
  QuotaExceeded: "QuotaExceeded",
  WorkspaceNotFound: "WorkspaceNotFound",
  WorkspaceNotReady: "WorkspaceNotReady",
  Forbidden: "Forbidden",
  PurchasePending: "PurchasePending",
  CannotPurchase: "CannotPurchase",
  DestinationsPending: "DestinationsPending",
  DestinationUnavailable: "DestinationUnavailable",
  BirdIssues: "BirdIssues",
  SubscriptionInactive: "SubscriptionInactive",
  ObserveOnly: "ObserveOnly",
  SecretNotFound: "SecretNotFound",
  KeyNotFound: "KeyNotFound",
  Unauthorized: "Unauthorized",
  PermissionDenied: "PermissionDenied",
  BirdUnreachable: "BirdUnreachable",
  SenderNotFound: "SenderNotFound",
  SenderConflict: "SenderConflict",
  CountryBlocked: "CountryBlocked",
  CountryUnavailable: "CountryUnavailable",
  /** The API server refused the status built from Bird's answer; only the conditions were written. */
  StatusRejected: "StatusRejected",
  /** Bird reported a provisioning status this operator does not know; shown verbatim. */
  UnknownProvisioningStatus: "UnknownProvisioningStatus",
  /** Another BirdWorkspace names the same Bird workspace and was there first. */
  DuplicateWorkspace: "DuplicateWorkspace",
  /** A BirdWorkspace being deleted while resources or records still use it. */
  InUse: "InUse",
} as const;

export type ReasonName = (typeof Reason)[keyof typeof Reason];

/** Event reasons: one per Bird write and one per failure kind. */
export const EventReason = {
  Purchased: "Purchased",
  Adopted: "Adopted",
  PurchaseIntentCleared: "PurchaseIntentCleared",
  CannotPurchase: "CannotPurchase",
  DestinationsActivated: "DestinationsActivated",
  DestinationsDeactivated: "DestinationsDeactivated",
  DestinationUnavailable: "DestinationUnavailable",
  SubscriptionCancelled: "SubscriptionCancelled",
  Retained: "Retained",
  NumberLost: "NumberLost",
  ReconcileError: "ReconcileError",
  WorkspaceReady: "WorkspaceReady",
  WorkspaceNotReady: "WorkspaceNotReady",
  PolicyViolation: "PolicyViolation",
  PriceAboveLimit: "PriceAboveLimit",
  CountryBlocked: "CountryBlocked",
  CountryUnavailable: "CountryUnavailable",
  SenderNotFound: "SenderNotFound",
  SenderConflict: "SenderConflict",
  /** A claim on a number or sender held, reserved or released elsewhere was refused. */
  ClaimRefused: "ClaimRefused",
  /** A resource took a record over: adopted, reserved for its namespace, or released by it before. */
  Claimed: "Claimed",
  /**
   * A resource let go of its number or sender without cancelling
   * (Retain, ObserveOnly, or a namespace no longer allowed).
   */
  Released: "Released",
  /** A record's holder disappeared without the operator's cleanup (finalizer removed by hand). */
  HolderGone: "HolderGone",
  /** An object of the previous release was given its ownership record. */
  Migrated: "Migrated",
  PurchaseFailed: "PurchaseFailed",
  WorkspaceInUse: "WorkspaceInUse",
} as const;

/**
 * Annotations. The first two were written by the previous release to record purchases; they prove nothing (a tenant
 * can write them) and are read only to give such objects their ownership records on upgrade (see legacy.ts).
 */
export const Annotation = {
  legacyNumberId: "numbers.birdoperator.dev/number-id",
  legacyPurchaseIntent: "numbers.birdoperator.dev/purchase-intent",
  /** "true" lets the deletion guard admit deleting a resource whose deletion policy is Delete. */
  confirmDelete: "numbers.birdoperator.dev/confirm-delete",
} as const;

export const FINALIZER = "numbers.birdoperator.dev/finalizer";
/** Keeps a BirdWorkspace (and its AccessKey Secret) while resources or records still use it. */
export const IN_USE_FINALIZER = "numbers.birdoperator.dev/in-use";
