import type { PhoneNumber } from "../../api/v1alpha1/index.js";
import { Annotation } from "../../api/v1alpha1/conditions.js";
import type { Informer } from "../../runtime/informer.js";

/** What the previous release left on a PhoneNumber about the number it held: its id, or a purchase in flight. */
export interface LegacyHint {
  numberId?: string;
  numberString?: string;
  /** Set when the hint is an unresolved purchase intent: when it was recorded. */
  intentStartedAt?: string;
}

/**
 * The previous release kept ownership in annotations and status. They prove nothing (a tenant can write annotations
 * and copy objects), so they are read only to give objects of that release their ownership record on upgrade, and a
 * record, once it exists, always wins over them.
 */
export function legacyHint(pn: PhoneNumber): LegacyHint | undefined {
  // An object this release has bound (status.boundTo) is past its upgrade: its status is this release's report.
  if (pn.status?.boundTo) return undefined;
  const annotations = pn.metadata?.annotations ?? {};
  const intent = parseIntent(annotations[Annotation.legacyPurchaseIntent]);
  const numberId = annotations[Annotation.legacyNumberId] ?? pn.status?.numberId;
  if (numberId) return { numberId, numberString: pn.status?.numberString };
  if (intent) return { numberString: intent.numberString, intentStartedAt: intent.startedAt };
  return undefined;
}

export function hasLegacyAnnotations(pn: PhoneNumber): boolean {
  const annotations = pn.metadata?.annotations ?? {};
  return Annotation.legacyNumberId in annotations || Annotation.legacyPurchaseIntent in annotations;
}

function parseIntent(raw: string | undefined): { numberString: string; startedAt: string } | undefined {
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(raw) as { numberString?: unknown; startedAt?: unknown };
    if (typeof parsed.numberString === "string" && typeof parsed.startedAt === "string")
      return { numberString: parsed.numberString, startedAt: parsed.startedAt };
  } catch {
    // Unreadable: no hint.
  }
  return undefined;
}

/**
 * Among the PhoneNumbers carrying the same legacy hint, only the oldest may turn it into a record: a copy (a restored
 * backup, a manifest copied with its annotations, a forged annotation) is always younger than the object the
 * previous release wrote the hint on. Kept up from informer events, so the question costs O(1) even when thousands
 * of objects are migrated at once.
 */
export class LegacyClaims {
  private readonly byHint = new Map<string, Map<string, PhoneNumber>>();
  private readonly hintsOf = new Map<string, string[]>();

  constructor(informer: Informer<PhoneNumber>) {
    informer.on((type, pn, old) => {
      // `old` may be another object of the same name (deleted and created again while the watch was down).
      if (old) this.forget(old);
      this.forget(pn);
      if (type !== "delete") this.remember(pn);
    });
  }

  isOldestClaimant(pn: PhoneNumber): boolean {
    const uid = pn.metadata?.uid ?? "";
    return hintKeys(pn).every((key) => {
      const claimants = [...(this.byHint.get(key)?.values() ?? [])];
      return claimants.every((other) => other.metadata?.uid === uid || compareAge(pn, other) < 0);
    });
  }

  private remember(pn: PhoneNumber): void {
    const keys = hintKeys(pn);
    if (!keys.length) return;
    const uid = pn.metadata?.uid ?? "";
    this.hintsOf.set(uid, keys);
    for (const key of keys) {
      const claimants = this.byHint.get(key) ?? new Map<string, PhoneNumber>();
      claimants.set(uid, pn);
      this.byHint.set(key, claimants);
    }
  }

  private forget(pn: PhoneNumber): void {
    const uid = pn.metadata?.uid ?? "";
    for (const key of this.hintsOf.get(uid) ?? []) {
      const claimants = this.byHint.get(key);
      claimants?.delete(uid);
      if (claimants?.size === 0) this.byHint.delete(key);
    }
    this.hintsOf.delete(uid);
  }
}

function hintKeys(pn: PhoneNumber): string[] {
  const hint = legacyHint(pn);
  if (!hint) return [];
  return [
    hint.numberId ? `id:${hint.numberId}` : undefined,
    hint.numberString ? `n:${hint.numberString}` : undefined,
  ].filter((k): k is string => k !== undefined);
}

/** Older first: creationTimestamp, then namespace/name so that equal timestamps still have one winner. */
function compareAge(a: PhoneNumber, b: PhoneNumber): number {
  const at = Date.parse(String(a.metadata?.creationTimestamp ?? ""));
  const bt = Date.parse(String(b.metadata?.creationTimestamp ?? ""));
  if (at !== bt && !Number.isNaN(at) && !Number.isNaN(bt)) return at - bt;
  const ak = `${a.metadata?.namespace}/${a.metadata?.name}`;
  const bk = `${b.metadata?.namespace}/${b.metadata?.name}`;
  return ak < bk ? -1 : ak > bk ? 1 : 0;
}
