import type { PhoneNumber } from "../../api/v1alpha1/index.js";
import type { Informer } from "../../runtime/informer.js";
import { readIntent, recordedNumberId } from "./purchase.js";

/**
 * Which PhoneNumber owns which Bird number, and which stock item each has an open purchase intent for, kept up from
 * informer events: asking "does another resource own this?" is then O(1) instead of a scan of every cached object
 * (10,000 adoptions would otherwise cost 10^8 comparisons).
 */
export class Ownership {
  private readonly numberOwners = new Map<string, Set<string>>();
  private readonly itemIntents = new Map<string, Set<string>>();
  private readonly claims = new Map<string, { numberId?: string; stockItemId?: string }>();

  constructor(informer: Informer<PhoneNumber>) {
    informer.on((type, pn) => (type === "delete" ? this.forget(uidOf(pn)) : this.update(pn)));
  }

  numberOwnedByOther(numberId: string, pn: PhoneNumber): boolean {
    return hasOther(this.numberOwners.get(numberId), uidOf(pn));
  }

  itemPromisedToOther(stockItemId: string, pn: PhoneNumber): boolean {
    return hasOther(this.itemIntents.get(stockItemId), uidOf(pn));
  }

  private update(pn: PhoneNumber): void {
    const uid = uidOf(pn);
    this.forget(uid);
    const claim = { numberId: recordedNumberId(pn), stockItemId: readIntent(pn)?.stockItemId };
    this.claims.set(uid, claim);
    if (claim.numberId) add(this.numberOwners, claim.numberId, uid);
    if (claim.stockItemId) add(this.itemIntents, claim.stockItemId, uid);
  }

  private forget(uid: string): void {
    const claim = this.claims.get(uid);
    if (!claim) return;
    if (claim.numberId) remove(this.numberOwners, claim.numberId, uid);
    if (claim.stockItemId) remove(this.itemIntents, claim.stockItemId, uid);
    this.claims.delete(uid);
  }
}

function uidOf(pn: PhoneNumber): string {
  return pn.metadata?.uid ?? `${pn.metadata?.namespace}/${pn.metadata?.name}`;
}

function hasOther(owners: Set<string> | undefined, uid: string): boolean {
  if (!owners) return false;
  for (const owner of owners) if (owner !== uid) return true;
  return false;
}

function add(map: Map<string, Set<string>>, key: string, uid: string): void {
  const set = map.get(key) ?? new Set<string>();
  set.add(uid);
  map.set(key, set);
}

function remove(map: Map<string, Set<string>>, key: string, uid: string): void {
  const set = map.get(key);
  set?.delete(uid);
  if (set?.size === 0) map.delete(key);
}
