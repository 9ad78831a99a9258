import type { AlphaNumber, LongCodeNumber } from "../bird/types.js";
import type { BirdApi } from "../bird/client.js";
import { isBirdApiError } from "../bird/errors.js";
import { subscriptionEnded } from "../bird/subscription.js";
import { sharedStrings, ValuePool } from "../runtime/intern.js";

export interface InventoryOptions {
  /**
   * A background refresh (a poll nobody awaits) failed: reported here, to be logged and counted; the next poll retries.
   */
  onError?: (task: "inventory-refresh" | "provisioning-poll", error: unknown) => void;
  /** A number waited for longer than this is handed back to its owner (woken) and no longer polled; default 10 min. */
  maxWaitMs?: number;
}

interface ProvisioningWaiter {
  wake: () => void;
  since: number;
}

/** A full list in flight: the numbers its pages showed so far, and who waits for one it has not shown yet. */
interface Listing {
  seen: Map<string, LongCodeNumber>;
  /** One callback, or several: after a restart, each of 100,000 numbers has one waiter, and arrays cost memory. */
  waiters: Map<string, (() => void) | (() => void)[]>;
}

/**
 * One workspace's numbers and senders, shared by every reconciler of that workspace. Refreshed with full paged
 * lists (limit 99) at most once per `maxAgeMs`, so observing N numbers costs about N/99 GETs per resync instead of
 * one GET each. Writes update it at once; concurrent refreshes share one flight.
 */
export class Inventory {
  private readonly numbersById = new Map<string, LongCodeNumber>();
  private readonly numberIdByString = new Map<string, string>();
  private readonly sendersById = new Map<string, AlphaNumber>();
  private numbersAt = Number.NEGATIVE_INFINITY;
  /** Bumped whenever the cached numbers change: whoever derives something from them (usage) knows when to redo it. */
  private numbersVersion = 0;
  /**
   * The numberString each version since `journalFrom` changed (entry i made version journalFrom + i + 1): what lets
   * usage follow a change instead of counting again. A full list starts it afresh; it never grows past JOURNAL_MAX.
   */
  private journal: string[] = [];
  private journalFrom = 0;
  private sendersAt = Number.NEGATIVE_INFINITY;
  private numbersFlight?: Promise<void>;
  private listing?: Listing;
  /**
   * Numbers put while a list is in flight: the list may have read its page before they existed. Known by what we
   * did, never by comparing Bird's `createdAt` with our clock (the two clocks need not agree).
   */
  private putDuringList?: Set<string>;
  /** Numbers changed by our own writes since they were last read: their destination counts are not Bird's yet. */
  private readonly changed = new Map<string, number>();
  private sendersFlight?: Promise<void>;
  private readonly changedSenders = new Map<string, number>();
  /** Numbers waiting to be seen provisioned, and whom to tell. */
  private readonly provisioningWaiters = new Map<string, ProvisioningWaiter>();
  private pollTimer?: NodeJS.Timeout;
  private polledAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly bird: BirdApi,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
    private readonly options: InventoryOptions = {},
  ) {}

  /**
   * The number by id, as fresh as a full list: a list in flight that already showed it serves it at once (its page is
   * as fresh as the whole list will be), so that reconciles need not wait for the last of a big workspace's pages.
   */
  async number(id: string): Promise<LongCodeNumber | undefined> {
    const fresh = this.freshNumbers();
    // Whoever awaits the list hears of its failure; answered from a page, this caller need not.
    fresh.catch(() => undefined);
    const waiting = this.whenListed(id);
    // Its page, or the list's end (or failure), whichever comes first.
    if (waiting) await Promise.race([waiting, fresh]);
    const listed = this.listing?.seen.get(id);
    if (listed) return listed;
    await fresh;
    return this.numbersById.get(id);
  }

  /**
   * Undefined when `number(id)` would answer without waiting for a list in flight; else a promise that settles once
   * the list shows the number or ends (either way). Lets a controller keep its workers for numbers already listed
   * while a big workspace is being listed after a restart, instead of parking them on numbers further down the list.
   */
  whenListed(id: string): Promise<void> | undefined {
    const listing = this.listing;
    if (!listing || listing.seen.has(id)) return undefined;
    return new Promise((resolve) => this.onListed(id, resolve));
  }

  /** As whenListed, with a callback: true when `wake` will be called (once), false when nothing needs waiting for. */
  onListed(id: string, wake: () => void): boolean {
    const listing = this.listing;
    if (!listing || listing.seen.has(id)) return false;
    const waiting = listing.waiters.get(id);
    if (!waiting) listing.waiters.set(id, wake);
    else if (Array.isArray(waiting)) waiting.push(wake);
    else listing.waiters.set(id, [waiting, wake]);
    return true;
  }

  async numberByString(numberString: string): Promise<LongCodeNumber | undefined> {
    await this.freshNumbers();
    const id = this.numberIdByString.get(numberString);
    return id ? this.numbersById.get(id) : undefined;
  }

  async countNumbers(predicate: (number: LongCodeNumber) => boolean = () => true): Promise<number> {
    await this.freshNumbers();
    let count = 0;
    for (const number of this.numbersById.values()) if (predicate(number)) count++;
    return count;
  }

  /** The number as last listed or read, without a Bird call (undefined: not in the cache). */
  cachedByString(numberString: string): LongCodeNumber | undefined {
    const id = this.numberIdByString.get(numberString);
    return id ? this.numbersById.get(id) : undefined;
  }

  /** Every cached number whose `main` subscription runs, by numberString, without a Bird call. */
  *activeNumberStrings(): Iterable<string> {
    for (const number of this.numbersById.values()) if (!subscriptionEnded(number)) yield number.numberString;
  }

  /** Lists the workspace's numbers if the cache is older than its maximum age. */
  refresh(): Promise<void> {
    return this.freshNumbers();
  }

  async senders(): Promise<AlphaNumber[]> {
    await this.freshSenders();
    return [...this.sendersById.values()];
  }

  /**
   * The number by id: from the cache, else read from Bird; undefined when Bird has no such number (not found, or an
   * id no Bird number can have).
   */
  async findNumber(id: string): Promise<LongCodeNumber | undefined> {
    const cached = await this.number(id);
    if (cached) return cached;
    try {
      return await this.reloadNumber(id);
    } catch (error) {
      if ((isBirdApiError(error) && error.kind === "not-found") || error instanceof RangeError) return undefined;
      throw error;
    }
  }

  /** Re-reads one number without relisting the workspace. */
  async reloadNumber(id: string): Promise<LongCodeNumber> {
    const number = await this.bird.getNumber(id);
    this.putNumber(number);
    return number;
  }

  /**
   * A number that is still provisioning, as fresh as the last poll. While more numbers provision than a full list
   * has pages, one list refresh every `pollMs` serves them all (1,000 new numbers cost 11 GETs a poll, not 1,000),
   * and no caller waits for it: the caller polls again later and finds what the refresh brought. A few provisioning
   * numbers are read one by one.
   */
  async pollNumber(id: string, pollMs: number): Promise<LongCodeNumber> {
    let provisioning = 0;
    for (const number of this.numbersById.values())
      if (number.endpoint?.provisioningStatus !== "provisioned") provisioning++;
    if (!this.listBeatsReads(provisioning)) return this.reloadNumber(id);
    // A failed refresh is the next poll's to retry; nobody awaits this one, so it is reported here.
    if (this.now() - this.numbersAt >= pollMs)
      this.refreshNumbers().catch((error: unknown) => this.options.onError?.("inventory-refresh", error));
    return this.numbersById.get(id) ?? this.reloadNumber(id);
  }

  /**
   * Calls `onProvisioned` once a refresh shows the number provisioned (or gone), so that no worker waits and no
   * requeue guesses when. One poller per workspace serves every waiting number: a full list every `pollMs` while
   * more numbers wait than a list has pages, else one GET each; the first look comes `pollMs / 4` after the first
   * wait is registered.
   */
  awaitProvisioned(id: string, pollMs: number, onProvisioned: () => void): void {
    const since = this.provisioningWaiters.get(id)?.since ?? this.now();
    this.provisioningWaiters.set(id, { wake: onProvisioned, since });
    this.schedulePoll(pollMs);
  }

  /** Stops polling and hands every wait back to its owner (the workspace is gone or its connection was replaced). */
  close(): void {
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    const waiters = [...this.provisioningWaiters.values()];
    this.provisioningWaiters.clear();
    for (const waiter of waiters) waiter.wake();
  }

  private schedulePoll(pollMs: number): void {
    if (this.pollTimer || this.provisioningWaiters.size === 0) return;
    const at = Math.max(this.polledAt + pollMs, this.now() + pollMs / 4);
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      void this.pollWaiters(pollMs);
    }, at - this.now());
    this.pollTimer.unref();
  }

  private async pollWaiters(pollMs: number): Promise<void> {
    this.polledAt = this.now();
    const waiting = [...this.provisioningWaiters.keys()];
    try {
      if (this.listBeatsReads(waiting.length)) await this.refreshNumbers();
      else await Promise.all(waiting.map((id) => this.reloadNumber(id)));
    } catch (error) {
      // Bird failed this time; the next poll asks again, and the owners' fallback requeues stand.
      this.options.onError?.("provisioning-poll", error);
    }
    // Waited too long (a number stuck provisioning, or its resource gone): its owner decides what next.
    const expired = this.now() - (this.options.maxWaitMs ?? 600_000);
    for (const id of waiting) {
      const number = this.numbersById.get(id);
      const waiter = this.provisioningWaiters.get(id);
      if (waiter && (!number || number.endpoint?.provisioningStatus === "provisioned" || waiter.since <= expired)) {
        this.provisioningWaiters.delete(id);
        waiter.wake();
      }
    }
    this.schedulePoll(pollMs);
  }

  /** Our write changed the number in Bird; its cached counts are stale until the next read. */
  markChanged(id: string): void {
    this.changed.set(id, this.now());
  }

  /** Whether the cached number reflects Bird after our last write to it (drift can only be judged then). */
  isCurrent(id: string): boolean {
    return !this.changed.has(id);
  }

  async reloadSender(id: string): Promise<AlphaNumber> {
    const sender = await this.bird.getAlphaNumber(id);
    this.changedSenders.delete(id);
    this.sendersById.set(sender.id, sender);
    return sender;
  }

  /** Our write changed the sender's destinations in Bird; its cached counts are stale until the next read. */
  markSenderChanged(id: string): void {
    this.changedSenders.set(id, this.now());
  }

  /** Whether the cached sender reflects Bird after our last write to it. */
  isSenderCurrent(id: string): boolean {
    return !this.changedSenders.has(id);
  }

  putNumber(number: LongCodeNumber): void {
    this.putDuringList?.add(number.id);
    this.changed.delete(number.id);
    const kept = slim(number);
    this.keep(kept);
    // What a list in flight serves must not be older than what we just read or wrote.
    if (this.listing?.seen.has(number.id)) this.listing.seen.set(number.id, kept);
  }

  get version(): number {
    return this.numbersVersion;
  }

  /**
   * The numberStrings whose cached number changed since `version`, or undefined when that is no longer known (a full
   * list replaced them all since, or too much changed): then whoever asks derives its figures afresh.
   */
  changedSince(version: number): string[] | undefined {
    if (version < this.journalFrom || version > this.numbersVersion) return undefined;
    return this.journal.slice(version - this.journalFrom);
  }

  private keep(number: LongCodeNumber): void {
    this.numbersById.set(number.id, number);
    this.numberIdByString.set(number.numberString, number.id);
    this.changedNumber(number.numberString);
  }

  private changedNumber(numberString: string): void {
    this.numbersVersion++;
    if (this.journal.length >= JOURNAL_MAX) this.restartJournal();
    else this.journal.push(numberString);
  }

  /** Forgets what changed so far: a later version than now is told from here on. */
  private restartJournal(): void {
    this.journal = [];
    this.journalFrom = this.numbersVersion;
  }

  forgetNumber(id: string): void {
    const number = this.numbersById.get(id);
    if (number) this.numberIdByString.delete(number.numberString);
    this.changedNumber(number?.numberString ?? "");
    this.numbersById.delete(id);
    this.listing?.seen.delete(id);
    this.changed.delete(id);
  }

  private freshNumbers(): Promise<void> {
    return this.now() - this.numbersAt < this.maxAgeMs ? Promise.resolve() : this.refreshNumbers();
  }

  /** A full list of the workspace's numbers; concurrent callers share one flight. */
  private refreshNumbers(): Promise<void> {
    this.numbersFlight ??= this.listNumbers().finally(() => (this.numbersFlight = undefined));
    return this.numbersFlight;
  }

  /** Whether one full list (pages of 99) costs fewer GETs than reading `count` numbers one by one. */
  private listBeatsReads(count: number): boolean {
    return count > Math.ceil(this.numbersById.size / 99);
  }

  private freshSenders(): Promise<void> {
    if (this.now() - this.sendersAt < this.maxAgeMs) return Promise.resolve();
    this.sendersFlight ??= this.listSenders().finally(() => (this.sendersFlight = undefined));
    return this.sendersFlight;
  }

  private async listNumbers(): Promise<void> {
    const started = this.now();
    const listing: Listing = { seen: new Map(), waiters: new Map() };
    const { seen } = listing;
    const putMeanwhile = new Set<string>();
    this.putDuringList = putMeanwhile;
    this.listing = listing;
    try {
      for await (const number of this.bird.numbers()) {
        // Slimmed as it arrives: a workspace of 100,000 numbers would otherwise hold every full answer until the end.
        seen.set(number.id, slim(number));
        const waiting = listing.waiters.get(number.id);
        listing.waiters.delete(number.id);
        if (waiting) wakeAll(waiting);
      }
    } finally {
      this.putDuringList = undefined;
      this.listing = undefined;
      for (const waiting of listing.waiters.values()) wakeAll(waiting);
    }
    // A number put while the list was in flight (just bought) may be missing from pages read before it existed.
    for (const id of putMeanwhile) {
      const number = this.numbersById.get(id);
      if (number && !seen.has(id)) seen.set(id, number);
    }
    this.numbersVersion++;
    this.numbersById.clear();
    this.numberIdByString.clear();
    const changed = [...this.changed];
    for (const number of seen.values()) this.keep(number);
    this.restartJournal();
    // A write that landed while the list was in flight may not be in what the list saw; older marks are settled.
    this.changed.clear();
    for (const [id, at] of changed) if (at >= started && this.numbersById.has(id)) this.changed.set(id, at);
    this.numbersAt = started;
  }

  private async listSenders(): Promise<void> {
    const started = this.now();
    const seen = new Map<string, AlphaNumber>();
    for await (const sender of this.bird.alphaNumbers()) seen.set(sender.id, sender);
    this.sendersById.clear();
    for (const [id, sender] of seen) this.sendersById.set(id, sender);
    // A write that landed while the list was in flight may not be in what the list saw.
    for (const [id, at] of this.changedSenders) if (at < started) this.changedSenders.delete(id);
    this.sendersAt = started;
  }
}

function wakeAll(waiting: (() => void) | (() => void)[]): void {
  if (Array.isArray(waiting)) for (const wake of waiting) wake();
  else waiting();
}

/** The most number changes the inventory remembers (see Inventory.changedSince); past it, usage is counted afresh. */
const JOURNAL_MAX = 4096;

/** Shared by every workspace's inventory: capabilities and issues are the same across numbers of a kind. */
const sharedValues = new ValuePool();

/**
 * What the reconcilers read of a number, and no more: a listed number carries its order, the endpoint's names,
 * dependencies, timestamps and inbound states too, which for 10,000 cached numbers is tens of megabytes. Add a field
 * here before a reconciler reads it from the inventory.
 */
function slim(number: LongCodeNumber): LongCodeNumber {
  const {
    id,
    endpointId,
    numberString,
    countryCode,
    type,
    capabilities,
    createdAt,
    updatedAt,
    deprovisionAt,
    endpoint,
  } = number;
  const kept: LongCodeNumber = {
    id,
    endpointId,
    numberString,
    countryCode,
    type,
    capabilities: sharedValues.share(capabilities),
    createdAt,
    updatedAt,
    // In the literal, not added after it: an added property costs the object a second block of memory.
    endpoint: endpoint && {
      id: endpoint.id,
      type: endpoint.type,
      provisioningStatus: endpoint.provisioningStatus,
      // The same for most numbers of a kind: one frozen copy each (100,000 numbers made 1,200,000 small objects).
      issues: sharedValues.share(endpoint.issues),
      capabilities: sharedValues.share(
        endpoint.capabilities?.map((c) => ({
          name: c.name,
          outbound: { status: c.outbound?.status, destinationStatuses: c.outbound?.destinationStatuses },
        })),
      ),
    },
  };
  if (!endpoint) delete kept.endpoint;
  if (deprovisionAt !== undefined) kept.deprovisionAt = deprovisionAt;
  return sharedStrings.internAll(kept);
}
