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

  /**
   * The record this AlphaSender holds for `sender`, claimed now if it holds none. `askServer: false` (see
   * RecordStore.findHeld): the object had no finalizer before this reconcile added it, so it holds nothing the cache
   * and this process's own writes would not show.
   */
  async obtain(
    alphaSender: AlphaSender,
    sender: AlphaNumber,
    log: Logger,
    options: { askServer?: boolean } = {},
  ): Promise<BirdSender> {
    const held = await this.options.records.findHeld(alphaSender, options);
    if (held?.spec.alphaNumberId.toLowerCase() === sender.id.toLowerCase())
      return held.status?.phase === Phase.Bound ? held : this.bind(alphaSender, held, sender, log);
    const name = senderRecordName(alphaSender.spec.workspaceRef.name, sender.id);
    const existing = this.options.records.get(name) ?? (await this.options.records.read(name));
    if (existing) return this.bind(alphaSender, existing, sender, log);
    const older = this.olderClaimant(alphaSender, sender);
    if (older) {
      // No record yet (a fresh sender, or an upgrade from the release that let the oldest claim win): the oldest
      // admitted claimant goes first, so an upgrade never hands a sender to a younger resource.
      this.options.waiters.wait(name, objectKey(alphaSender));
      throw new PermanentError(
        `sender ${sender.alphaString} is claimed by the older AlphaSender ${objectKey(older)}; ` +
          "this resource changes nothing in Bird unless that one goes",
        Reason.SenderConflict,
        { retryAfterMs: 30_000 },
      );
    }
    const created = await this.options.records.create(boundTo(newRecord(name, alphaSender, sender), alphaSender));
    if (created) {
      log.info({ record: name, alphaString: sender.alphaString, senderId: sender.id }, "Claimed sender");
      this.options.events.record(created, "Normal", EventReason.Claimed, `Claimed by ${objectKey(alphaSender)}`);
      return created;
    }
    const raced = await this.options.records.read(name);
    if (!raced)
      throw new PermanentError(`the record ${name} came and went; trying again`, Reason.SenderConflict, {
        retryAfterMs: 1000,
      });
    return this.bind(alphaSender, raced, sender, log);
  }

  private olderClaimant(alphaSender: AlphaSender, sender: AlphaNumber): AlphaSender | undefined {
    return olderClaimant(alphaSender, sender, this.options.informer.list(), (o) => this.options.admission.check(o).ok);
  }

  /**
   * Takes an existing record over when it is free, reserved for this namespace, or released by it; refuses otherwise.
   */
  private async bind(
    alphaSender: AlphaSender,
    record: BirdSender,
    sender: AlphaNumber,
    log: Logger,
  ): Promise<BirdSender> {
    const allowed = claimability(record, alphaSender);
    if (!allowed.ok) this.refuse(alphaSender, record, sender, allowed.message, log);
    const status = {
      ...record.status,
      phase: Phase.Bound,
      alphaString: boundedText(sender.alphaString, 64),
      endpointId: sender.endpointId,
      releasedAt: undefined,
      message: undefined,
    };
    const how = isHeldBy(record, alphaSender)
      ? "bound again"
      : record.status?.phase === Phase.Released
        ? "released by this namespace before"
        : record.spec.claimRef
          ? "reserved for this namespace"
          : "free";
    const taken = await this.options.records.update(boundTo({ ...record, status }, alphaSender));
    log.info({ record: taken.metadata?.name, alphaString: sender.alphaString, how }, "Took over sender");
    this.options.events.record(
      taken,
      "Normal",
      EventReason.Claimed,
      `Taken over by ${objectKey(alphaSender)} (${how})`,
    );
    return taken;
  }

  /** The claim is not this object's to make: it waits for the record to change, and says why. */
  private refuse(alphaSender: AlphaSender, record: BirdSender, sender: AlphaNumber, why: string, log: Logger): never {
    this.options.waiters.wait(record.metadata?.name ?? "", objectKey(alphaSender));
    log.info({ record: record.metadata?.name, holder: record.spec.claimRef }, "Claim refused");
    this.options.events.record(
      record,
      "Warning",
      EventReason.ClaimRefused,
      `Refused ${objectKey(alphaSender)}: ${why}`,
    );
    throw new PermanentError(
      `sender ${sender.alphaString}: ${why}; this resource changes nothing in Bird`,
      Reason.SenderConflict,
    );
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
  async release(alphaSender: AlphaSender, record: BirdSender, why: string, log: Logger): Promise<void> {
    const message =
      `released by ${objectKey(alphaSender)} (${why}): its countries stay active and paid for; only namespace ` +
      `"${alphaSender.metadata?.namespace}" may take the sender again, ` +
      "or the platform team after clearing spec.claimRef";
    await this.options.records.update({
      ...record,
      status: { ...record.status, phase: Phase.Released, releasedAt: rfc3339(this.options.now()), message },
    });
    log.info({ record: record.metadata?.name, why }, "Released sender");
    this.options.events.record(
      alphaSender,
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
 * The oldest admitted AlphaSender (Full management) among `candidates`, other than `alphaSender`, naming the same
 * sender, if older than `alphaSender`. Exported for `bird-operator plan`.
 */
export function olderClaimant(
  alphaSender: AlphaSender,
  sender: AlphaNumber,
  candidates: readonly AlphaSender[],
  admitted: (o: AlphaSender) => boolean,
): AlphaSender | undefined {
  const workspace = alphaSender.spec.workspaceRef.name;
  const rivals = candidates
    .filter(
      (o) =>
        o.metadata?.uid !== alphaSender.metadata?.uid &&
        !o.metadata?.deletionTimestamp &&
        o.spec.workspaceRef.name === workspace,
    )
    .filter((o) => o.spec.managementPolicy !== "ObserveOnly" && claimsSender(o.spec, sender) && admitted(o));
  const oldest = senderOwner([alphaSender, ...rivals]);
  return oldest && oldest !== alphaSender ? oldest : undefined;
}

function newRecord(name: string, alphaSender: AlphaSender, sender: AlphaNumber): BirdSender {
  return {
    apiVersion: API_VERSION,
    kind: BIRD_SENDER_KIND,
    metadata: { name },
    spec: { workspaceRef: { name: alphaSender.spec.workspaceRef.name }, alphaNumberId: sender.id },
    status: {
      phase: Phase.Bound,
      alphaString: boundedText(sender.alphaString, 64),
      endpointId: sender.endpointId,
      countries: [],
    },
  };
}
