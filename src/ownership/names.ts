/**
 * Names of the ownership records. A record's name is derived from what it records, so two claims on one number (or
 * sender) create objects of the same name and the API server lets exactly one create win. The CRDs enforce the same
 * derivation with CEL, so a platform team that reserves a number by hand cannot get the name wrong either.
 */

/** `<workspace>.<digits>`, e.g. `default.31612345678` for +31612345678 in BirdWorkspace `default`. */
export function numberRecordName(workspace: string, numberString: string): string {
  return `${workspace}.${numberString.replace(/^\+/, "")}`;
}

/** `<workspace>.<alphaNumberId in lower case>`. */
export function senderRecordName(workspace: string, alphaNumberId: string): string {
  return `${workspace}.${alphaNumberId.toLowerCase()}`;
}

/**
 * The label carrying a record's claimRef.uid: an index the API server can filter on, so "does this object hold a
 * record?" can be asked of the API server itself (a consistent read) before anything is claimed or let go. The
 * claimRef in the spec stays the truth; the label only finds candidates.
 */
export const CLAIM_UID_LABEL = "numbers.birdoperator.dev/claim-uid";
