import type { BirdNumber, PhoneNumber } from "../../api/v1alpha1/index.js";
import { API_VERSION, BIRD_NUMBER_KIND } from "../../api/v1alpha1/index.js";
import { Annotation, EventReason, Reason } from "../../api/v1alpha1/conditions.js";
import type { LongCodeNumber } from "../../bird/types.js";
import type { Logger } from "../../log.js";
import { numberRecordName } from "../../ownership/names.js";
import { boundTo, claimability, isHeldBy, Phase, type RecordStore } from "../../ownership/records.js";
import { PermanentError, Waiting } from "../../runtime/errors.js";
import type { EventRecorder } from "../../runtime/events.js";
import { objectKey } from "../../runtime/informer.js";
import type { ResourceClient } from "../../runtime/resource-client.js";
import type { Waiters } from "../../runtime/waiters.js";
import { hasLegacyAnnotations, legacyHint, type LegacyClaims, type LegacyHint } from "./legacy.js";
import type { NumberExternal } from "./external.js";
import type { PurchaseGrace } from "../../ownership/purchase-grace.js";
import type { Purchase, Purchaser } from "./purchase.js";

export interface NumberClaimsOptions {
  records: RecordStore<BirdNumber>;
  purchaser: Purchaser;
  legacy: LegacyClaims;
  client: ResourceClient<PhoneNumber>;
  events: EventRecorder;
  /** PhoneNumbers refused a record, woken when that record changes or goes. */
  waiters: Waiters;
  purchaseGraceMs: number;
  /** When an unresolved purchase counts as never having reached Bird. */
  grace: PurchaseGrace;
  now: () => Date;
}

/** The record a PhoneNumber holds, and the number when this reconcile learned it (a purchase, a lookup). */
export interface Held {
  record: BirdNumber;
  number?: LongCodeNumber;
  purchased?: boolean;
}

/**
 * What a PhoneNumber owns, decided by BirdNumber records alone: the record whose claimRef carries its uid. A
 * PhoneNumber without one claims a record (adopt, take over a reservation or its own namespace's release, or buy),
 * and the create or the versioned update of that record is the claim: a second claimant gets a conflict, never a
 * number. Annotations and status on the PhoneNumber prove nothing.
 */
export class NumberClaims {
  constructor(private readonly options: NumberClaimsOptions) {}

  /**
   * The record this PhoneNumber holds (`found`: what findHeld answered), claiming one first if it holds none;
   * Purchasing records are resolved.
   */
  async obtain(pn: PhoneNumber, found: BirdNumber | undefined, external: NumberExternal, log: Logger): Promise<Held> {
    let held = found;
    // The cache may show our own purchase before its bind: a read of the record is cheaper than a lookup in Bird.
    if (held?.status?.phase === Phase.Purchasing) held = await this.options.records.read(held.metadata?.name ?? "");
    if (held && !isHeldBy(held, pn)) held = undefined;
    const claimed: Held = held ? { record: held } : await this.claim(pn, external, log);
    if (claimed.record.status?.phase !== Phase.Purchasing) return claimed;
    return (await this.resolvePurchase(pn, claimed.record, external, log)) ?? this.claim(pn, external, log);
  }

  /** ObserveOnly holding a record from its Full days: a Purchasing one is resolved, but nothing is ever bought. */
  async observeHeld(pn: PhoneNumber, held: BirdNumber, external: NumberExternal, log: Logger): Promise<Held> {
    if (held.status?.phase !== Phase.Purchasing) return { record: held };
    const resolved = await this.resolvePurchase(pn, held, external, log);
    if (resolved) return resolved;
    throw new Waiting(
      `ObserveOnly: the purchase of ${held.spec.numberString} never reached Bird; nothing is bought in this mode`,
      Reason.NumberUnavailable,
      this.options.purchaseGraceMs,
    );
  }

  /**
   * A record left Purchasing (a crash, a buy without a clear answer) is resolved by looking its number up in the
   * workspace: there → bound; absent past the grace period → the buy never happened and the claim is withdrawn
   * (undefined: the caller may buy again).
   */
  async resolvePurchase(
    pn: PhoneNumber,
    record: BirdNumber,
    external: NumberExternal,
    log: Logger,
  ): Promise<Held | undefined> {
    const numberString = record.spec.numberString;
    const found = await external.observe({ numberString, uncached: true });
    if (found) {
      const bound = await this.options.purchaser.bind(record, found);
      log.info({ record: bound.metadata?.name, numberString, numberId: found.id }, "Resolved an interrupted purchase");
      this.options.events.record(
        pn,
        "Normal",
        EventReason.Adopted,
        `Resolved the interrupted purchase of ${numberString}: ` +
          "the number is in the workspace and belongs to this resource",
      );
      return { record: bound, number: found };
    }
    const startedAt = record.status?.purchase?.startedAt ?? record.metadata?.creationTimestamp;
    const remaining = this.options.grace.remainingMs(record);
    if (remaining > 0) {
      throw new Waiting(
        `waiting for Bird to show ${numberString} (purchase started ${String(startedAt)})`,
        Reason.PurchasePending,
        Math.min(5000, remaining),
      );
    }
    await this.options.records.remove(record);
    log.info({ record: record.metadata?.name, numberString }, "Purchase never reached Bird; claim withdrawn");
    this.options.events.record(
      pn,
      "Normal",
      EventReason.PurchaseIntentCleared,
      `The purchase of ${numberString} never reached Bird; trying again`,
    );
    return undefined;
  }

  /** No record yet: the previous release's hints (upgrade), the exact number the spec names, or a purchase. */
  private async claim(pn: PhoneNumber, external: NumberExternal, log: Logger): Promise<Held> {
    if (pn.status?.boundTo) return this.reclaim(pn, external, log);
    const migrated = await this.migrate(pn, external, log);
    if (migrated) return migrated;
    if (!pn.spec.numberString) return this.bought(await this.options.purchaser.purchase(pn, external, log));
    const name = numberRecordName(pn.spec.workspaceRef.name, pn.spec.numberString);
    const existing = this.options.records.get(name) ?? (await this.options.records.read(name));
    if (existing) return this.takeOver(pn, existing, external, log);
    const number = await external.observe({ numberString: pn.spec.numberString });
    if (!number) return this.bought(await this.options.purchaser.purchase(pn, external, log));
    return this.adopt(pn, number, external, log);
  }

  /**
   * Status says this object was bound (to `status.boundTo`) but no record binds it now: the record was deleted by hand,
   * or the status was restored from elsewhere. The number status names is claimed again if nobody holds it and it is
   * still in the workspace; nothing is ever bought here (a missing record must not cost a new number).
   */
  private async reclaim(pn: PhoneNumber, external: NumberExternal, log: Logger): Promise<Held> {
    const numberString = pn.status?.numberString;
    const lost = (why: string): Waiting =>
      new Waiting(
        `the BirdNumber record ${pn.status?.boundTo} this resource was bound to is gone and ${why}; ` +
          "nothing was bought to replace it. Delete this PhoneNumber and apply it again to get a new number",
        Reason.NumberLost,
        60_000,
      );
    if (!numberString) throw lost("its status names no number");
    const name = numberRecordName(pn.spec.workspaceRef.name, numberString);
    const existing = this.options.records.get(name) ?? (await this.options.records.read(name));
    if (existing) return this.takeOver(pn, existing, external, log);
    const number = await external.observe({ numberString });
    if (!number) throw lost(`${numberString} is no longer in the workspace`);
    return this.adopt(pn, number, external, log);
  }

  private bought(purchase: Purchase): Held {
    return { record: purchase.record, number: purchase.number, purchased: true };
  }

  /** A number in the workspace that no record knows: the create of its record is the claim. */
  private async adopt(pn: PhoneNumber, number: LongCodeNumber, external: NumberExternal, log: Logger): Promise<Held> {
    const name = numberRecordName(pn.spec.workspaceRef.name, number.numberString);
    const record: BirdNumber = {
      apiVersion: API_VERSION,
      kind: BIRD_NUMBER_KIND,
      metadata: { name },
      spec: { workspaceRef: { name: pn.spec.workspaceRef.name }, numberString: number.numberString },
      status: { phase: Phase.Bound, numberId: number.id, endpointId: number.endpointId },
    };
    const created = await this.options.records.create(boundTo(record, pn));
    if (!created) {
      const existing = await this.options.records.read(name);
      if (!existing) throw new Waiting(`the record ${name} came and went; trying again`, Reason.NumberConflict, 1000);
      return this.takeOver(pn, existing, external, log);
    }
    log.info({ record: name, numberString: number.numberString, numberId: number.id }, "Adopted number");
    this.options.events.record(
      pn,
      "Normal",
      EventReason.Adopted,
      `Adopted ${number.numberString}: the workspace owns it, so nothing was bought`,
    );
    this.options.events.record(created, "Normal", EventReason.Adopted, `Adopted by ${objectKey(pn)}`);
    return { record: created, number };
  }

  /**
   * A record exists: taken over when it is free, reserved for this namespace, or released by it; refused otherwise
   * (NumberConflict, woken when the record changes). A record without the number in the workspace is bought into.
   */
  private async takeOver(pn: PhoneNumber, record: BirdNumber, external: NumberExternal, log: Logger): Promise<Held> {
    if (isHeldBy(record, pn)) return { record };
    const allowed = claimability(record, pn);
    if (!allowed.ok) {
      this.options.waiters.wait(record.metadata?.name ?? "", objectKey(pn));
      log.info({ record: record.metadata?.name, holder: record.spec.claimRef }, "Claim refused");
      this.options.events.record(
        record,
        "Warning",
        EventReason.ClaimRefused,
        `Refused ${objectKey(pn)}: ${allowed.message}`,
      );
      throw new PermanentError(`${record.spec.numberString}: ${allowed.message}`, Reason.NumberConflict);
    }
    const number = await external.observe(
      record.status?.numberId ? { id: record.status.numberId } : { numberString: record.spec.numberString },
    );
    if (!number) return this.bought(await this.options.purchaser.purchase(pn, external, log, record));
    const taken = await this.bindRecord(record, number, pn);
    const how =
      record.status?.phase === Phase.Released
        ? "released by this namespace before"
        : record.spec.claimRef
          ? "reserved for this namespace"
          : "free";
    log.info({ record: taken.metadata?.name, numberString: number.numberString, how }, "Took over number");
    this.options.events.record(
      pn,
      "Normal",
      EventReason.Claimed,
      `Took over ${number.numberString} (${how}): nothing was bought`,
    );
    this.options.events.record(taken, "Normal", EventReason.Claimed, `Taken over by ${objectKey(pn)} (${how})`);
    return { record: taken, number };
  }

  private bindRecord(record: BirdNumber, number: LongCodeNumber, pn: PhoneNumber): Promise<BirdNumber> {
    return this.options.records.update(
      boundTo(
        {
          ...record,
          status: {
            ...record.status,
            phase: Phase.Bound,
            numberId: number.id,
            endpointId: number.endpointId,
            releasedAt: undefined,
            message: undefined,
          },
        },
        pn,
      ),
    );
  }

  /** The held record bound again to its number, after it was seen Lost or Released while its holder lived on. */
  async rebind(record: BirdNumber, number: LongCodeNumber): Promise<BirdNumber> {
    return this.options.purchaser.bind(
      { ...record, status: { ...record.status, releasedAt: undefined, message: undefined } },
      number,
    );
  }

  /**
   * Upgrade from the release that kept ownership in annotations: the oldest object carrying a hint gets a record for
   * the number it names, if no record exists yet (a record always wins), and its legacy annotations are removed.
   */
  async migrate(pn: PhoneNumber, external: NumberExternal, log: Logger): Promise<Held | undefined> {
    const hint = legacyHint(pn);
    if (!hint) return undefined;
    const number = await external.observe(
      hint.numberId ? { id: hint.numberId } : { numberString: hint.numberString ?? "", uncached: true },
    );
    if (!number) return this.waitForHintedPurchase(hint);
    const name = numberRecordName(pn.spec.workspaceRef.name, number.numberString);
    const existing = this.options.records.get(name) ?? (await this.options.records.read(name));
    // A copy (restored backup, copied manifest) names a number its original holds: refused, not bought anew.
    if (!existing && !this.options.legacy.isOldestClaimant(pn)) {
      this.options.waiters.wait(name, objectKey(pn));
      throw new PermanentError(
        `${number.numberString}: this resource carries the previous release's record of the number, ` +
          "and an older resource carries it too: it looks like a copy, " +
          "so it claims nothing (delete and re-create it to buy a number of its own)",
        Reason.NumberConflict,
        { retryAfterMs: 60_000 },
      );
    }
    const held = existing
      ? await this.takeOver(pn, existing, external, log)
      : await this.adopt(pn, number, external, log);
    if (hasLegacyAnnotations(pn)) await this.dropLegacyAnnotations(pn);
    log.info({ record: name, numberString: number.numberString }, "Migrated from the previous release's annotations");
    this.options.events.record(
      held.record,
      "Normal",
      EventReason.Migrated,
      `Recorded ${objectKey(pn)} as the holder of ${number.numberString} (it held the number before the upgrade)`,
    );
    return held;
  }

  /**
   * A hint naming no number of the workspace (made up, or long gone) says nothing: the spec decides. Within the
   * purchase grace period Bird may not list the number yet, so it waits.
   */
  private waitForHintedPurchase(hint: LegacyHint): undefined {
    const age = this.options.now().getTime() - Date.parse(hint.intentStartedAt ?? "");
    if (age < this.options.purchaseGraceMs)
      throw new Waiting(
        `waiting for Bird to show ${hint.numberString} (purchase started ${hint.intentStartedAt})`,
        Reason.PurchasePending,
        2000,
      );
    return undefined;
  }

  private async dropLegacyAnnotations(pn: PhoneNumber): Promise<void> {
    const annotations = { [Annotation.legacyNumberId]: null, [Annotation.legacyPurchaseIntent]: null };
    await this.options.client.patch(pn.metadata?.namespace, pn.metadata?.name ?? "", { metadata: { annotations } });
  }
}
