import type { BirdNumber, BirdSender, Money } from "../api/v1alpha1/index.js";
import { subscriptionEnded } from "../bird/subscription.js";
import type { LongCodeNumber } from "../bird/types.js";
import { Phase, type RecordStore } from "./records.js";

/** A claim decided in this process that the record cache may not show yet: what it will cost. */
interface Reservation {
  price?: Money;
  /** True once the record cache shows what the reservation stands for; it is forgotten then. */
  settled: () => boolean;
}

/**
 * One workspace's claims in flight: a purchase (or a sender country's activation) is reserved here, synchronously
 * with the check that allowed it, before the first await. Another reconcile checking the same limit a moment later
 * counts it, whether or not its record has reached the cache yet. Entries leave when the cache shows their record
 * (`settled`) or when the claim fails (`release`).
 */
export class Ledger {
  private readonly reservations = new Map<string, Reservation>();

  reserve(key: string, price: Money | undefined, settled: () => boolean): void {
    this.reservations.set(key, { price, settled });
  }

  release(key: string): void {
    this.reservations.delete(key);
  }

  has(key: string): boolean {
    return this.reservations.has(key);
  }

  /** The reservations the cache does not show yet (settled ones are dropped on the way). */
  pending(): { key: string; price?: Money }[] {
    const pending: { key: string; price?: Money }[] = [];
    for (const [key, reservation] of this.reservations) {
      if (reservation.settled()) this.reservations.delete(key);
      else pending.push({ key, price: reservation.price });
    }
    return pending;
  }
}

/** What the inventory knows of a number right now, without a Bird call (undefined: not in the cached list). */
export type CachedNumber = (numberString: string) => LongCodeNumber | undefined;

export interface UsageInput {
  numbers: readonly BirdNumber[];
  senders: readonly BirdSender[];
  ledger: Ledger;
  /** The workspace's numbers as last listed from Bird. */
  inventory: { cachedByString: CachedNumber; activeNumberStrings: () => Iterable<string> };
}

export interface Usage {
  /** Numbers billed or being bought: every record of a billed number, reservations, and numbers no record knows. */
  numbers: number;
  /** Monthly prices of everything billed or being bought that has a known price. */
  prices: Money[];
}

/**
 * Everything the workspace pays for, as the spend and quota policies count it. A number counts while it is being
 * bought and while Bird bills it, whoever holds it: Bound, Released by Retain, or handed back to the platform team.
 * Deleting a resource with Retain therefore frees nothing, so deleting and re-creating cannot exceed a limit.
 */
export function workspaceUsage({ numbers, senders, ledger, inventory }: UsageInput): Usage {
  const prices: Money[] = [];
  const known = new Set<string>();
  let count = 0;
  for (const record of numbers) {
    known.add(record.spec.numberString);
    if (!numberBilled(record, inventory.cachedByString(record.spec.numberString))) continue;
    count++;
    if (record.status?.monthlyPrice) prices.push(record.status.monthlyPrice);
  }
  for (const sender of senders) for (const country of sender.status?.countries ?? []) if (country.price) prices.push(country.price);
  for (const reservation of ledger.pending()) {
    if (reservation.key.includes("#")) {
      if (reservation.price) prices.push(reservation.price);
      continue;
    }
    count++;
    if (reservation.price) prices.push(reservation.price);
  }
  for (const numberString of inventory.activeNumberStrings()) if (!known.has(numberString)) count++;
  return { numbers: count, prices };
}

/**
 * Whether Bird bills the record's number: while it is being bought, and while it is in the workspace with its main
 * subscription running. A held number the inventory has not listed yet counts (it was bought moments ago); a
 * reservation of a number that is not in the workspace does not.
 */
export function numberBilled(record: BirdNumber, number: LongCodeNumber | undefined): boolean {
  const phase = record.status?.phase;
  if (phase === Phase.Purchasing) return true;
  if (phase === Phase.Lost) return false;
  if (number) return !subscriptionEnded(number);
  return phase === Phase.Bound || phase === Phase.Released;
}

/** The ledger key of a sender country's activation (number reservations are keyed by record name). */
export function countryKey(senderRecord: string, country: string): string {
  return `${senderRecord}#${country}`;
}

/** The workspace as the usage counts it: its name, its ledger, its inventory. */
export interface UsageSource {
  workspace: { metadata?: { name?: string } };
  ledger: Ledger;
  inventory: UsageInput["inventory"];
}

/** Usage of a workspace from the record caches: what the spend and quota policies and the workspace status count. */
export class UsageBook {
  constructor(
    private readonly numbers: RecordStore<BirdNumber>,
    private readonly senders: RecordStore<BirdSender>,
  ) {}

  of(source: UsageSource): Usage {
    const name = source.workspace.metadata?.name ?? "";
    return workspaceUsage({ numbers: this.numbers.inWorkspace(name), senders: this.senders.inWorkspace(name), ledger: source.ledger, inventory: source.inventory });
  }
}
