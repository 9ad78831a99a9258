import type { BirdNumber, Money } from "../api/v1alpha1/index.js";
import { subscriptionEnded } from "../bird/subscription.js";

/** What the tally reads of a workspace's Bird numbers (the inventory, see UsageInventory in usage.ts). */
export interface TallyInventory {
  cachedByString: (numberString: string) => Parameters<typeof subscriptionEnded>[0] | undefined;
  activeNumberStrings: () => Iterable<string>;
}

/** Whether a record's number is billed, given what the inventory has for it (numberBilled in usage.ts). */
export type Billed = (record: BirdNumber, number: Parameters<typeof subscriptionEnded>[0] | undefined) => boolean;

/** A record as counted: the version added, and whether its number was billed then. */
interface Contribution {
  record: BirdNumber;
  billed: boolean;
}

/**
 * One workspace's number records as the spend and quota policies count them, kept up to date one record and one
 * number at a time: counting a 100,000-record workspace again before each purchase took tens of milliseconds a buy.
 * It answers exactly what `workspaceUsage` counts from scratch for the records and the inventory: the billed records,
 * their prices (added up per distinct price), and the active numbers no record names. What changed is told to it
 * (`recordChanged`, `numberChanged`); anything it cannot follow (a whole new list of numbers) is a rebuild.
 */
export class UsageTally {
  private readonly entries = new Map<string, Contribution>();
  /**
   * Record names per numberString: one name as itself (nearly always), several as a list; 100,000 Sets would double
   * the tally's 11 MB.
   */
  private readonly recordsByString = new Map<string, string | string[]>();
  /** Active numbers in the inventory that no record names. */
  private readonly unknownActive = new Set<string>();
  /** Billed prices, by distinct price: few keys however many numbers. */
  private readonly prices = new Map<string, { price: Money; count: number }>();
  private billedCount = 0;

  constructor(
    private readonly inventory: TallyInventory,
    private readonly billed: Billed,
    records: Iterable<BirdNumber>,
  ) {
    for (const record of records) this.add(record);
    for (const numberString of inventory.activeNumberStrings())
      if (!this.recordsByString.has(numberString)) this.unknownActive.add(numberString);
  }

  /** The record of this name changed, appeared or went (`record` undefined, or now in another workspace). */
  recordChanged(name: string, record: BirdNumber | undefined): void {
    const old = this.entries.get(name);
    if (old) this.remove(name, old);
    if (record) this.add(record);
  }

  /** The inventory's view of this number changed (bought, read, cancelled, forgotten). */
  numberChanged(numberString: string): void {
    for (const name of [this.recordsByString.get(numberString) ?? []].flat()) {
      const entry = this.entries.get(name);
      if (!entry) continue;
      this.remove(name, entry);
      this.add(entry.record);
    }
    this.settleUnknown(numberString);
  }

  get numbers(): number {
    return this.billedCount + this.unknownActive.size;
  }

  /** The billed records' prices, one Money per distinct price times how many records have it. */
  pricesBilled(): Money[] {
    return [...this.prices.values()].map(({ price, count }) =>
      count === 1 ? { ...price } : { ...price, amount: times(price.amount, count) },
    );
  }

  private add(record: BirdNumber): void {
    const name = record.metadata?.name ?? "";
    const { numberString } = record.spec;
    const billed = this.billed(record, this.inventory.cachedByString(numberString));
    this.entries.set(name, { record, billed });
    const price = record.status?.monthlyPrice;
    if (billed) this.billedCount++;
    if (billed && price) this.countPrice(price, 1);
    const names = this.recordsByString.get(numberString);
    if (names === undefined) this.recordsByString.set(numberString, name);
    else this.recordsByString.set(numberString, [names, name].flat());
    this.unknownActive.delete(numberString);
  }

  private remove(name: string, { record, billed }: Contribution): void {
    const { numberString } = record.spec;
    const price = record.status?.monthlyPrice;
    this.entries.delete(name);
    if (billed) this.billedCount--;
    if (billed && price) this.countPrice(price, -1);
    const rest = [this.recordsByString.get(numberString) ?? []].flat().filter((other) => other !== name);
    if (rest.length === 0) this.recordsByString.delete(numberString);
    else this.recordsByString.set(numberString, rest.length === 1 ? rest[0]! : rest);
    this.settleUnknown(numberString);
  }

  /** Whether the number counts as an active number no record names, after a change to it or to its records. */
  private settleUnknown(numberString: string): void {
    const number = this.inventory.cachedByString(numberString);
    const active = number !== undefined && !subscriptionEnded(number);
    if (active && !this.recordsByString.has(numberString)) this.unknownActive.add(numberString);
    else this.unknownActive.delete(numberString);
  }

  private countPrice(price: Money, delta: 1 | -1): void {
    const key = `${price.currencyCode} ${price.amount} ${price.exponent}`;
    const entry = this.prices.get(key);
    const count = (entry?.count ?? 0) + delta;
    if (count <= 0) this.prices.delete(key);
    else this.prices.set(key, { price: entry?.price ?? price, count });
  }
}

/**
 * `amount` x `count`, exactly while it is a safe integer; past that (or for an amount that is not an integer, a
 * malformed price) the result is not a safe integer either, and adding it up refuses as adding the prices one by one
 * would have.
 */
function times(amount: number, count: number): number {
  if (!Number.isSafeInteger(amount)) return amount * count + 0.5;
  const product = BigInt(amount) * BigInt(count);
  return product > BigInt(Number.MAX_SAFE_INTEGER) || product < BigInt(Number.MIN_SAFE_INTEGER)
    ? Number.MAX_SAFE_INTEGER + 2
    : Number(product);
}
