import { BirdApiError, isBirdApiError } from "../bird/errors.js";
import type { BuyOptions, LongCodeNumber, NumberStockItem, SendGuard } from "../bird/types.js";

/** Bird's limit: one buy call takes at most 25 stock items. */
export const MAX_BUY_BATCH = 25;

export type StockItemRef = Pick<NumberStockItem, "id" | "numberString">;

export interface BuyBatcherOptions {
  /** Stock items per buy call (at most Bird's 25). */
  maxBatch?: number;
  /** Buy calls in flight at once; further purchases wait and go together in the next call. */
  maxInFlight?: number;
  /** Told of every item Bird refused for good, e.g. so that stock cached with it is searched again. */
  onRefused?: (item: StockItemRef) => void;
}

interface Pending {
  item: StockItemRef;
  guard: BuyGuard | undefined;
  /** Sent alone: a batch it was in was refused without saying which item was at fault. */
  solo: boolean;
  resolve: (number: LongCodeNumber | undefined) => void;
  reject: (error: unknown) => void;
}

/** Asked right before each attempt of the call that would buy the item leaves: an error to fail it with instead. */
export type BuyGuard = SendGuard;

/**
 * Bird refused to sell this stock item: a 422 to a buy that held it alone, or that named it. Nothing was bought and
 * the same item would be refused again, but another item may be bought (the usual cause is an item sold meanwhile),
 * so it is transient for the purchase. Recognise it with `instanceof`, never by Bird's code, which is undocumented.
 */
export class StockItemRefused extends BirdApiError {
  constructor(
    readonly stockItem: StockItemRef,
    refusal: BirdApiError,
  ) {
    super({
      method: refusal.method,
      route: refusal.route,
      status: refusal.status,
      code: refusal.code,
      birdMessage: refusal.birdMessage,
      details: refusal.details,
      kind: "transient",
      cause: refusal,
      message: `Bird refused to sell stock item ${stockItem.numberString}, nothing was bought (${refusal.message})`,
    });
    this.name = "StockItemRefused";
  }
}

/**
 * Purchases of one workspace, batched: each resource records its own intent first and then asks for its one stock
 * item here; items asked for while a call is being prepared or the calls in flight are busy go out together, up to
 * 25 a call. A lone purchase is sent at once (no waiting for company). Bird's buy is all-or-nothing, so:
 * - any failure that may have taken effect (timeout, network) fails every purchase of the batch as ambiguous, and
 *   each resource resolves its recorded intent by looking its number up, as for a single buy;
 * - a 422 means nothing was bought (Bird documents no more than "validation error"): the items Bird names, if it
 *   names any, are refused and the others sent again; else each item is sent again alone, and a lone item's 422 is
 *   final for that item (StockItemRefused), so one sold item cannot cost the others theirs and none loops;
 * - a guard that refuses right before an attempt leaves fails its own purchase; the others go again without it;
 * - any other failure fails every purchase of the batch with Bird's error (nothing was bought).
 */
export class BuyBatcher {
  private readonly queue: Pending[] = [];
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly buyNumbers: (stockItemIds: string[], options: BuyOptions) => Promise<LongCodeNumber[]>,
    private readonly options: BuyBatcherOptions = {},
  ) {
    this.maxBatch = Math.min(MAX_BUY_BATCH, Math.max(1, options.maxBatch ?? MAX_BUY_BATCH));
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 4);
  }

  /**
   * Buys one stock item; resolves with the number Bird answered for it (undefined if its answer lacks it). `guard`
   * runs right before each attempt of the call leaves, after any wait for a place in a call or for the rate limiter
   * (a leader check belongs there). Rejects with StockItemRefused when Bird will not sell this item.
   */
  buy(item: StockItemRef, guard?: BuyGuard): Promise<LongCodeNumber | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, guard, solo: false, resolve, reject });
      this.schedule();
    });
  }

  /** Deferred to the next turn of the event loop, so that purchases asked for in the same turn share a call. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.nextBatch();
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** The head of the queue, up to maxBatch distinct items; a solo item goes alone. */
  private nextBatch(): Pending[] {
    const head = this.queue[0] as Pending;
    if (head.solo) return this.queue.splice(0, 1);
    const batch: Pending[] = [];
    const ids = new Set<string>();
    for (let i = 0; i < this.queue.length && batch.length < this.maxBatch;) {
      const pending = this.queue[i] as Pending;
      // An item listed twice would fail the whole call (Bird answers 422): the second asker waits for the next one.
      if (pending.solo || ids.has(pending.item.id)) {
        i++;
        continue;
      }
      ids.add(pending.item.id);
      batch.push(pending);
      this.queue.splice(i, 1);
    }
    return batch;
  }

  private async send(batch: Pending[]): Promise<void> {
    const guard = new BatchGuard(batch);
    let numbers: LongCodeNumber[];
    try {
      numbers = await this.buyNumbers(
        batch.map((p) => p.item.id),
        { guard: guard.check },
      );
    } catch (error) {
      if (guard.stopped(error)) this.requeue(guard.failRefused());
      else this.failed(batch, error);
      return;
    }
    const byNumber = new Map(numbers.map((n) => [n.numberString, n]));
    for (const pending of batch)
      pending.resolve(byNumber.get(pending.item.numberString) ?? (batch.length === 1 ? numbers[0] : undefined));
  }

  private failed(batch: Pending[], error: unknown): void {
    if (!isBirdApiError(error) || error.ambiguous || error.status !== 422) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    if (batch.length === 1) {
      this.refuse(batch[0] as Pending, error);
      return;
    }
    const faulty = namedItems(error);
    const named = batch.some((p) => faulty.has(p.item.id));
    const retry: Pending[] = [];
    for (const pending of batch) {
      if (faulty.has(pending.item.id)) this.refuse(pending, error);
      // Bird named none of ours (or nothing at all): each goes alone, and a lone refusal is final.
      else retry.push({ ...pending, solo: !named });
    }
    this.requeue(retry);
  }

  private refuse(pending: Pending, refusal: BirdApiError): void {
    pending.reject(new StockItemRefused(pending.item, refusal));
    this.options.onRefused?.(pending.item);
  }

  /** Nothing was bought: these go again, ahead of purchases asked for since. */
  private requeue(pending: Pending[]): void {
    if (pending.length === 0) return;
    this.queue.unshift(...pending);
    this.schedule();
  }
}

/**
 * The guards of one batch, asked together before each attempt. A refusal stops the call unsent (an earlier attempt
 * can only have been a 429, which Bird did not process), so the purchases whose guard refused fail and the rest go
 * again without them.
 */
class BatchGuard {
  private readonly refusals = new Map<Pending, Error>();
  private refusal: Error | undefined;

  constructor(private readonly batch: readonly Pending[]) {}

  readonly check = (): Error | undefined => {
    for (const pending of this.batch) {
      const refusal = pending.guard?.();
      if (refusal) this.refusals.set(pending, refusal);
    }
    this.refusal = this.refusals.values().next().value;
    return this.refusal;
  };

  /** Whether the call failed because a guard stopped it. */
  stopped(error: unknown): boolean {
    return this.refusal !== undefined && error === this.refusal;
  }

  /** Fails each purchase whose guard refused with its guard's error; returns the others, to go again. */
  failRefused(): Pending[] {
    const others: Pending[] = [];
    for (const pending of this.batch) {
      const refusal = this.refusals.get(pending);
      if (refusal) pending.reject(refusal);
      else others.push(pending);
    }
    return others;
  }
}

/**
 * The stock items a 422 names, if Bird names any. Bird documents no such detail: `details.numberStockItemIds` is our
 * assumption (the simulator offers it as an option), used only to spare the others a call each.
 */
function namedItems(error: BirdApiError): Set<string> {
  const named = error.details?.numberStockItemIds;
  return new Set(Array.isArray(named) ? named.filter((id): id is string => typeof id === "string") : []);
}
