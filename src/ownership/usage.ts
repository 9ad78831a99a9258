import type { BirdNumber, BirdSender, BirdWorkspace, Money } from "../api/v1alpha1/index.js";
import { subscriptionEnded } from "../bird/subscription.js";
import type { LongCodeNumber } from "../bird/types.js";
import type { Informer } from "../runtime/informer.js";
import { Phase, type RecordStore } from "./records.js";
import { UsageTally } from "./usage-tally.js";

/**
 * One workspace's claims in flight: a purchase (or a sender country's activation) is reserved here, synchronously
 * with the check that allowed it, before the first await. Another reconcile checking the same limit a moment later
 * counts it, whether or not its record has reached the cache yet. An entry leaves when a record event shows what it
 * stands for (the UsageBook settles it from the informers) or when the claim fails (`release`).
 */
export class Ledger {
  private readonly reservations = new Map<string, Money | undefined>();

  reserve(key: string, price: Money | undefined): void {
    this.reservations.set(key, price);
  }

  release(key: string): void {
    this.reservations.delete(key);
  }

  has(key: string): boolean {
    return this.reservations.has(key);
  }

  get size(): number {
    return this.reservations.size;
  }

  /** Keys starting with `prefix` (a sender record's countries). */
  keysFor(prefix: string): string[] {
    return [...this.reservations.keys()].filter((key) => key.startsWith(prefix));
  }

  pending(): { key: string; price?: Money }[] {
    return [...this.reservations].map(([key, price]) => ({ key, price }));
  }
}

/** What the inventory knows of a number right now, without a Bird call (undefined: not in the cached list). */
export type CachedNumber = (numberString: string) => LongCodeNumber | undefined;

export interface UsageInput {
  numbers: readonly BirdNumber[];
  senders: readonly BirdSender[];
  ledger: Pick<Ledger, "pending">;
  /** The workspace's numbers as last listed from Bird. */
  inventory: UsageInventory;
}

export interface UsageInventory {
  cachedByString: CachedNumber;
  activeNumberStrings: () => Iterable<string>;
  /** Changes whenever what the two above answer may change; without it, usage is counted afresh every time. */
  readonly version?: number;
  /** The numberStrings changed since a version, if still known (see Inventory.changedSince). */
  changedSince?(version: number): Iterable<string> | undefined;
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
  const unknown = new Set<string>();
  for (const numberString of inventory.activeNumberStrings()) if (!known.has(numberString)) unknown.add(numberString);
  return addSendersAndClaims({ numbers: count + unknown.size, prices }, senders, ledger);
}

/** Adds the sender countries' prices and the claims in flight (a number's reservation also counts as a number). */
function addSendersAndClaims(usage: Usage, senders: readonly BirdSender[], ledger: Pick<Ledger, "pending">): Usage {
  for (const sender of senders)
    for (const country of sender.status?.countries ?? []) if (country.price) usage.prices.push(country.price);
  for (const reservation of ledger.pending()) {
    if (reservation.price) usage.prices.push(reservation.price);
    if (!reservation.key.includes("#")) usage.numbers++;
  }
  return usage;
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

/** The workspace as the usage counts it: its name (and limits) and its inventory. */
export interface UsageSource {
  workspace: { metadata?: { name?: string }; spec?: { policy?: { maxNumbers?: number; maxMonthlySpend?: Money } } };
  inventory: UsageInput["inventory"];
}

/**
 * Usage of a workspace from the record caches plus the claims in flight: what the spend and quota policies and the
 * workspace status count. The ledgers live here, next to the record informers that settle them: a number's
 * reservation settles on the first event showing its record claimed (any phase but Available or Reserved) or gone,
 * a sender country's when its record lists the country or goes.
 */
export class UsageBook {
  private readonly ledgers = new Map<string, Ledger>();
  /** Bumped by every record event and ledger change: with the inventory's version, it says when to count again. */
  private changes = 0;
  /**
   * The last count per workspace. Counting walks every record of the workspace (100,000 numbers: ~20 ms), and a
   * purchase asks before each buy, so a thousand purchases counted a thousand times what had not changed.
   */
  private readonly counted = new Map<string, { inventory: UsageInventory; at: string; usage: Usage }>();
  /**
   * For a workspace with limits, whose purchases each ask while records and numbers change between them: its records
   * counted once and then kept up to date, one record event and one changed number at a time (see UsageTally).
   */
  private readonly tallies = new Map<string, { tally: UsageTally; inventory: UsageInventory; version: number }>();

  constructor(
    private readonly numbers: RecordStore<BirdNumber>,
    private readonly senders: RecordStore<BirdSender>,
    private readonly workspaces?: Pick<Informer<BirdWorkspace>, "on" | "get">,
  ) {
    // A deleted workspace is never counted again: what was kept for it (and the inventory it holds) goes with it.
    workspaces?.on((type, workspace) => {
      if (type !== "delete") return;
      this.counted.delete(workspace.metadata?.name ?? "");
      this.tallies.delete(workspace.metadata?.name ?? "");
    });
    numbers.informer.on((type, record, old) => {
      this.changes++;
      const name = record.metadata?.name ?? "";
      const workspace = record.spec.workspaceRef.name;
      const before = old?.spec.workspaceRef.name;
      if (before !== undefined && before !== workspace) this.tallies.get(before)?.tally.recordChanged(name, undefined);
      this.tallies.get(workspace)?.tally.recordChanged(name, type === "delete" ? undefined : record);
      const claimed =
        type === "delete" || (record.status?.phase !== Phase.Available && record.status?.phase !== Phase.Reserved);
      if (claimed) this.settle(record.spec.workspaceRef.name, [record.metadata?.name ?? ""]);
    });
    senders.informer.on((type, record) => {
      this.changes++;
      const name = record.metadata?.name ?? "";
      const ledger = this.ledgers.get(record.spec.workspaceRef.name);
      if (!ledger) return;
      const listed = new Set((record.status?.countries ?? []).map((c) => countryKey(name, c.countryCode)));
      this.settle(
        record.spec.workspaceRef.name,
        ledger.keysFor(`${name}#`).filter((key) => type === "delete" || listed.has(key)),
      );
    });
  }

  /** Reserves a claim's price in its workspace's ledger (see Ledger). */
  reserve(workspace: string, key: string, price: Money | undefined): void {
    const ledger = this.ledgers.get(workspace) ?? new Ledger();
    this.changes++;
    ledger.reserve(key, price);
    this.ledgers.set(workspace, ledger);
  }

  release(workspace: string, key: string): void {
    this.settle(workspace, [key]);
  }

  /**
   * Ends the reservations of a sender record's countries that its holder's reconcile found Bird does not bill (left
   * inactive or blocked by the activation): the record will never list them, so the event that settles a listed
   * country would never come. Countries in `billed` (paid for, or possibly billed) stay reserved until the record
   * lists them.
   */
  releaseUncharged(workspace: string, senderRecord: string, billed: Iterable<string>): void {
    const ledger = this.ledgers.get(workspace);
    if (!ledger) return;
    const listed = new Set([...billed].map((country) => countryKey(senderRecord, country)));
    this.settle(
      workspace,
      ledger.keysFor(`${senderRecord}#`).filter((key) => !listed.has(key)),
    );
  }

  /** The workspaces a count or a tally is kept for. */
  kept(): string[] {
    return [...new Set([...this.counted.keys(), ...this.tallies.keys()])];
  }

  /** Whether a claim on this key is in flight in the workspace. */
  reserved(workspace: string, key: string): boolean {
    return this.ledgers.get(workspace)?.has(key) ?? false;
  }

  /** What the workspace pays for now (see workspaceUsage); counted again only after something it depends on changed. */
  of(source: UsageSource): Usage {
    const name = source.workspace.metadata?.name ?? "";
    const { inventory } = source;
    const policy = source.workspace.spec?.policy;
    const limited = policy?.maxNumbers !== undefined || policy?.maxMonthlySpend !== undefined;
    const { version } = inventory;
    // A reconcile may still ask for a workspace deleted meanwhile: it is counted, but nothing is kept for it.
    const known = !this.workspaces || this.workspaces.get(name) !== undefined;
    if (limited && version !== undefined && inventory.changedSince && known)
      return this.tallied(name, inventory, version);
    this.tallies.delete(name);
    const at = inventory.version === undefined || !known ? undefined : `${this.changes}/${inventory.version}`;
    const last = this.counted.get(name);
    if (at !== undefined && last?.inventory === inventory && last.at === at) return copyOf(last.usage);
    const ledger = this.ledgers.get(name) ?? new Ledger();
    const usage = workspaceUsage({
      numbers: this.numbers.inWorkspace(name),
      senders: this.senders.inWorkspace(name),
      ledger,
      inventory,
    });
    if (at === undefined) this.counted.delete(name);
    else this.counted.set(name, { inventory, at, usage: copyOf(usage) });
    return usage;
  }

  /** Usage from the workspace's tally, brought up to date with the numbers changed since (built afresh if unknown). */
  private tallied(name: string, inventory: UsageInventory, version: number): Usage {
    let kept = this.tallies.get(name);
    const changed = kept?.inventory === inventory ? inventory.changedSince?.(kept.version) : undefined;
    if (!kept || !changed) {
      kept = { tally: new UsageTally(inventory, numberBilled, this.numbers.inWorkspace(name)), inventory, version: 0 };
      this.tallies.set(name, kept);
    } else for (const numberString of changed) kept.tally.numberChanged(numberString);
    kept.version = version;
    const usage = { numbers: kept.tally.numbers, prices: kept.tally.pricesBilled() };
    return addSendersAndClaims(usage, this.senders.inWorkspace(name), this.ledgers.get(name) ?? new Ledger());
  }

  private settle(workspace: string, keys: string[]): void {
    const ledger = this.ledgers.get(workspace);
    if (!ledger) return;
    this.changes++;
    for (const key of keys) ledger.release(key);
    if (ledger.size === 0) this.ledgers.delete(workspace);
  }
}

/** Callers may change what they are given (sort the prices, say); the count kept for next time stays as counted. */
function copyOf(usage: Usage): Usage {
  return { numbers: usage.numbers, prices: [...usage.prices] };
}
