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
} as const;

/** Annotations that make a purchase crash-safe; metadata survives a status wipe (backup/restore), status does not. */
export const Annotation = {
  numberId: "numbers.birdoperator.dev/number-id",
  purchaseIntent: "numbers.birdoperator.dev/purchase-intent",
} as const;

export const FINALIZER = "numbers.birdoperator.dev/finalizer";
