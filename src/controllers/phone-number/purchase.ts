import type { PhoneNumber, PurchaseIntent } from "../../api/v1alpha1/index.js";
import { Annotation, FINALIZER } from "../../api/v1alpha1/conditions.js";
import type { Money } from "../../bird/types.js";
import { isApiStatus } from "../../runtime/errors.js";
import type { ResourceClient } from "../../runtime/resource-client.js";

/** The purchase intent recorded on the object before the buy call, if any. */
export function readIntent(pn: PhoneNumber): PurchaseIntent | undefined {
  const raw = pn.metadata?.annotations?.[Annotation.purchaseIntent];
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<PurchaseIntent>;
    if (parsed.stockItemId && parsed.numberString && parsed.startedAt) {
      return { stockItemId: parsed.stockItemId, numberString: parsed.numberString, startedAt: parsed.startedAt };
    }
  } catch {
    // An unreadable intent is treated like a recorded one for its number string below, if any; else ignored.
  }
  return undefined;
}

/** The Bird id of the number this resource owns: the annotation survives a status wipe, status is the fallback. */
export function recordedNumberId(pn: PhoneNumber): string | undefined {
  return pn.metadata?.annotations?.[Annotation.numberId] ?? pn.status?.numberId;
}

/**
 * Records the intent with a full update carrying the resourceVersion the decision was made on: if the cache was
 * stale (another reconcile recorded something meanwhile), the API server answers 409 and nothing is bought. The
 * same update adds the finalizer, so that it is in place before the buy without a write of its own.
 */
export async function recordIntent(client: ResourceClient<PhoneNumber>, pn: PhoneNumber, intent: PurchaseIntent): Promise<PhoneNumber> {
  const annotations = { ...pn.metadata?.annotations, [Annotation.purchaseIntent]: JSON.stringify(intent) };
  const finalizers = pn.metadata?.finalizers ?? [];
  return client.update({ ...pn, metadata: { ...pn.metadata, annotations, finalizers: finalizers.includes(FINALIZER) ? finalizers : [...finalizers, FINALIZER] } });
}

/**
 * Records the number id and drops the intent, re-reading on conflict: after a buy, losing this write is the one
 * thing that would leave a purchase unattributed until the intent is resolved by lookup.
 */
export async function recordNumberId(client: ResourceClient<PhoneNumber>, pn: PhoneNumber, numberId: string): Promise<PhoneNumber> {
  let current = pn;
  for (let attempt = 0; ; attempt++) {
    const annotations: Record<string, string> = { ...current.metadata?.annotations, [Annotation.numberId]: numberId };
    delete annotations[Annotation.purchaseIntent];
    try {
      return await client.update({ ...current, metadata: { ...current.metadata, annotations } });
    } catch (error) {
      if (!isApiStatus(error, 409) || attempt >= 5) throw error;
      current = await client.get(pn.metadata?.namespace, pn.metadata?.name ?? "");
    }
  }
}

export async function clearIntent(client: ResourceClient<PhoneNumber>, pn: PhoneNumber): Promise<PhoneNumber> {
  const annotations = { ...pn.metadata?.annotations };
  delete annotations[Annotation.purchaseIntent];
  return client.update({ ...pn, metadata: { ...pn.metadata, annotations } });
}

/** Stock items promised to in-flight purchases of one workspace, and their prices, so quota checks count them. */
export class PurchaseLedger {
  private readonly pending = new Map<string, { stockItemId: string; price?: Money; bought?: boolean }>();

  /** Purchases in flight that the inventory does not count yet (see `bought`). */
  get size(): number {
    let count = 0;
    for (const entry of this.pending.values()) if (!entry.bought) count++;
    return count;
  }

  isReserved(stockItemId: string): boolean {
    for (const entry of this.pending.values()) if (entry.stockItemId === stockItemId) return true;
    return false;
  }

  prices(): Money[] {
    return [...this.pending.values()].flatMap((e) => (e.price ? [e.price] : []));
  }

  reserve(owner: string, stockItemId: string, price?: Money): void {
    this.pending.set(owner, { stockItemId, price });
  }

  /** The number is in the inventory, which counts it from now on; its price is counted here until `release`. */
  bought(owner: string): void {
    const entry = this.pending.get(owner);
    if (entry) entry.bought = true;
  }

  release(owner: string): void {
    this.pending.delete(owner);
  }
}
