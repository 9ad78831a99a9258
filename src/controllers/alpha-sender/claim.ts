import { isDeepStrictEqual } from "node:util";
import type { AlphaSender, BirdSender, CountryCharge } from "../../api/v1alpha1/index.js";
import { API_VERSION, BIRD_SENDER_KIND } from "../../api/v1alpha1/index.js";
import { EventReason, Reason } from "../../api/v1alpha1/conditions.js";
import { addMoney, formatMoney } from "../../bird/money.js";
import type { AlphaNumber } from "../../bird/types.js";
import type { Logger } from "../../log.js";
import { senderRecordName } from "../../ownership/names.js";
import { boundTo, claimability, isHeldBy, Phase, type RecordStore } from "../../ownership/records.js";
import { PermanentError } from "../../runtime/errors.js";
import type { EventRecorder } from "../../runtime/events.js";
import { objectKey, type Informer } from "../../runtime/informer.js";
import { rfc3339 } from "../../runtime/status.js";
import type { Waiters } from "../../runtime/waiters.js";
import type { Admission } from "../admission.js";
import { boundedText } from "../bounded.js";
import { claimsSender, senderOwner } from "./desired.js";

export interface SenderClaimsOptions {
  records: RecordStore<BirdSender>;
  /** Every AlphaSender, to find an older admitted claimant of the same sender. */
  informer: Informer<AlphaSender>;
  admission: Admission;
  events: EventRecorder;
  /** AlphaSenders refused a record, woken when that record changes or goes. */
  waiters: Waiters;
  now: () => Date;
}

/**
 * Which AlphaSender manages which sender, decided by BirdSender records alone: the record whose claimRef carries the
 * AlphaSender's uid. The first allowed AlphaSender to create the record (its name derives from the workspace and the
 * sender's id) holds the sender; others get SenderConflict and write nothing to Bird. A record the platform team made
 * with only claimRef.namespace reserves the sender for that namespace.
 */
export class SenderClaims {
  constructor(private readonly options: SenderClaimsOptions) {}

  /** The record this AlphaSender holds for `sender`, claimed now if it holds none. */
  async obtain(as: AlphaSender, sender: AlphaNumber, log: Logger): Promise<BirdSender> {
    const held = await this.options.records.findHeld(as);
    if (held?.spec.alphaNumberId.toLowerCase() === sender.id.toLowerCase())
      return held.status?.phase === Phase.Bound ? held : this.bind(as, held, sender, log);
    const name = senderRecordName(as.spec.workspaceRef.name, sender.id);
    const existing = this.options.records.get(name) ?? (await this.options.records.read(name));
    if (existing) return this.bind(as, existing, sender, log);
    const older = this.olderClaimant(as, sender);
    if (older) {
      // No record yet (a fresh sender, or an upgrade from the release that let the oldest claim win): the oldest
      // admitted claimant goes first, so an upgrade never hands a sender to a younger resource.
      this.options.waiters.wait(name, objectKey(as));
      throw new PermanentError(
        `sender ${sender.alphaString} is claimed by the older AlphaSender ${objectKey(older)}; ` +
          "this resource changes nothing in Bird unless that one goes",
        Reason.SenderConflict,
        { retryAfterMs: 30_000 },
      );
    }
    const created = await this.options.records.create(boundTo(newRecord(name, as, sender), as));
    if (created) {
      log.info({ record: name, alphaString: sender.alphaString, senderId: sender.id }, "Claimed sender");
      this.options.events.record(created, "Normal", EventReason.Claimed, `Claimed by ${objectKey(as)}`);
      return created;
    }
    const raced = await this.options.records.read(name);
    if (!raced)
      throw new PermanentError(`the record ${name} came and went; trying again`, Reason.SenderConflict, {
        retryAfterMs: 1000,
      });
    return this.bind(as, raced, sender, log);
  }

  private olderClaimant(as: AlphaSender, sender: AlphaNumber): AlphaSender | undefined {
    return olderClaimant(as, sender, this.options.informer.list(), (o) => this.options.admission.check(o).ok);
  }

  /**
   * Takes an existing record over when it is free, reserved for this namespace, or released by it; refuses otherwise.
   */
  private async bind(as: AlphaSender, record: BirdSender, sender: AlphaNumber, log: Logger): Promise<BirdSender> {
    const allowed = claimability(record, as);
    if (!allowed.ok) {
      this.options.waiters.wait(record.metadata?.name ?? "", objectKey(as));
      log.info({ record: record.metadata?.name, holder: record.spec.claimRef }, "Claim refused");
      this.options.events.record(
        record,
        "Warning",
        EventReason.ClaimRefused,
        `Refused ${objectKey(as)}: ${allowed.message}`,
      );
      throw new PermanentError(
        `sender ${sender.alphaString}: ${allowed.message}; this resource changes nothing in Bird`,
        Reason.SenderConflict,
      );
    }
    const status = {
      ...record.status,
      phase: Phase.Bound,
      alphaString: boundedText(sender.alphaString, 64),
      endpointId: sender.endpointId,
      releasedAt: undefined,
      message: undefined,
    };
    const how = isHeldBy(record, as)
      ? "bound again"
      : record.status?.phase === Phase.Released
        ? "released by this namespace before"
        : record.spec.claimRef
          ? "reserved for this namespace"
          : "free";
    const taken = await this.options.records.update(boundTo({ ...record, status }, as));
    log.info({ record: taken.metadata?.name, alphaString: sender.alphaString, how }, "Took over sender");
    this.options.events.record(taken, "Normal", EventReason.Claimed, `Taken over by ${objectKey(as)} (${how})`);
    return taken;
  }

  /**
   * Keeps the record's list of paid countries as Bird lists them (what the spend policy counts, whoever holds the
   * sender later). Written only when it changed.
   */
  async recordCharges(record: BirdSender, charges: CountryCharge[]): Promise<BirdSender> {
    const sorted = [...charges].sort((a, b) => a.countryCode.localeCompare(b.countryCode));
    // Compared as values: Bird's and the API server's key orders differ, and a string compare would write every time.
    if (isDeepStrictEqual(sorted, record.status?.countries ?? [])) return record;
    const spend = sorted.reduce<ReturnType<typeof addMoney> | undefined>(
      (sum, c) =>
        c.price ? (sum && sum.currencyCode === c.price.currencyCode ? addMoney(sum, c.price) : (sum ?? c.price)) : sum,
      undefined,
    );
    return this.options.records.update({
      ...record,
      status: { ...record.status, countries: sorted, monthlySpendText: spend ? formatMoney(spend) : undefined },
    });
  }

  /** Lets go without touching Bird: the record shows Released with the countries that stay paid for. */
  async release(as: AlphaSender, record: BirdSender, why: string, log: Logger): Promise<void> {
    const message =
      `released by ${objectKey(as)} (${why}): its countries stay active and paid for; only namespace ` +
      `"${as.metadata?.namespace}" may take the sender again, or the platform team after clearing spec.claimRef`;
    await this.options.records.update({
      ...record,
      status: { ...record.status, phase: Phase.Released, releasedAt: rfc3339(this.options.now()), message },
    });
    log.info({ record: record.metadata?.name, why }, "Released sender");
    this.options.events.record(
      as,
      "Normal",
      EventReason.Retained,
      `${why}: the countries of sender ${record.status?.alphaString ?? ""} stay active in Bird ` +
        `(kubectl get birdsender ${record.metadata?.name})`,
    );
    this.options.events.record(record, "Normal", EventReason.Released, message);
  }

  async remove(record: BirdSender): Promise<void> {
    await this.options.records.remove(record);
  }
}

/**
 * The oldest admitted AlphaSender (Full management) among `candidates`, other than `as`, naming the same sender, if
 * older than `as`. Exported for `bird-operator plan`.
 */
export function olderClaimant(
  as: AlphaSender,
  sender: AlphaNumber,
  candidates: readonly AlphaSender[],
  admitted: (o: AlphaSender) => boolean,
): AlphaSender | undefined {
  const workspace = as.spec.workspaceRef.name;
  const rivals = candidates
    .filter(
      (o) =>
        o.metadata?.uid !== as.metadata?.uid &&
        !o.metadata?.deletionTimestamp &&
        o.spec.workspaceRef.name === workspace,
    )
    .filter((o) => o.spec.managementPolicy !== "ObserveOnly" && claimsSender(o.spec, sender) && admitted(o));
  const oldest = senderOwner([as, ...rivals]);
  return oldest && oldest !== as ? oldest : undefined;
}

function newRecord(name: string, as: AlphaSender, sender: AlphaNumber): BirdSender {
  return {
    apiVersion: API_VERSION,
    kind: BIRD_SENDER_KIND,
    metadata: { name },
    spec: { workspaceRef: { name: as.spec.workspaceRef.name }, alphaNumberId: sender.id },
    status: {
      phase: Phase.Bound,
      alphaString: boundedText(sender.alphaString, 64),
      endpointId: sender.endpointId,
      countries: [],
    },
  };
}
