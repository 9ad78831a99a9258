import { isBirdApiError } from "./errors.js";
import type { LongCodeNumber, NumberStockItem } from "./types.js";

/** Bird's limit: one buy call takes at most 25 stock items. */
export const MAX_BUY_BATCH = 25;

export interface BuyBatcherOptions {
  /** Stock items per buy call (at most Bird's 25). */
  maxBatch?: number;
  /** Buy calls in flight at once; further purchases wait and go together in the next call. */
  maxInFlight?: number;
}

interface Pending {
  item: Pick<NumberStockItem, "id" | "numberString">;
  guard: BuyGuard | undefined;
  /** Sent alone: a batch it was in was refused without saying which item was at fault. */
  solo: boolean;
  resolve: (number: LongCodeNumber | undefined) => void;
  reject: (error: unknown) => void;
}

/** Asked right before the call that would buy the item: an error to fail the purchase with instead, or undefined. */
export type BuyGuard = () => Error | undefined;

/**
 * Purchases of one workspace, batched: each resource records its own intent first and then asks for its one stock
 * item here; items asked for while a call is being prepared or the calls in flight are busy go out together, up to
 * 25 a call. A lone purchase is sent at once (no waiting for company). Bird's buy is all-or-nothing, so:
 * - any failure that may have taken effect (timeout, network) fails every purchase of the batch as ambiguous, and
 *   each resource resolves its recorded intent by looking its number up, as for a single buy;
 * - a 422 for unavailable items fails only the items Bird names and sends the others again; when Bird does not
 *   name them, each item is sent again alone, so one sold item cannot cost the others theirs;
 * - any other refusal fails every purchase of the batch with Bird's error (nothing was bought).
 */
export class BuyBatcher {
  private readonly queue: Pending[] = [];
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly buyNumbers: (stockItemIds: string[]) => Promise<LongCodeNumber[]>,
    options: BuyBatcherOptions = {},
  ) {
    this.maxBatch = Math.min(MAX_BUY_BATCH, Math.max(1, options.maxBatch ?? MAX_BUY_BATCH));
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 4);
  }

  /**
   * Buys one stock item; resolves with the number Bird answered for it (undefined if its answer lacks it). `guard`
   * runs right before the call is sent, however long the purchase waited for it (a leader check belongs there).
   */
  buy(item: Pick<NumberStockItem, "id" | "numberString">, guard?: BuyGuard): Promise<LongCodeNumber | undefined> {
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
    for (let i = 0; i < this.queue.length && batch.length < this.maxBatch; ) {
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

  private async send(candidates: Pending[]): Promise<void> {
    const batch = candidates.filter((pending) => {
      const refusal = pending.guard?.();
      if (refusal) pending.reject(refusal);
      return !refusal;
    });
    if (batch.length === 0) return;
    let numbers: LongCodeNumber[];
    try {
      numbers = await this.buyNumbers(batch.map((p) => p.item.id));
    } catch (error) {
      this.failed(batch, error);
      return;
    }
    const byNumber = new Map(numbers.map((n) => [n.numberString, n]));
    for (const pending of batch) pending.resolve(byNumber.get(pending.item.numberString) ?? (batch.length === 1 ? numbers[0] : undefined));
  }

  private failed(batch: Pending[], error: unknown): void {
    const unavailable = batch.length > 1 && isBirdApiError(error) && !error.ambiguous && error.code === "stock-item-unavailable";
    if (!unavailable) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    const named = error.details?.numberStockItemIds;
    const faulty = new Set(Array.isArray(named) ? named.filter((id): id is string => typeof id === "string") : []);
    // Bird named none of ours (or nothing at all): each goes alone, and a lone refusal is final.
    const solo = !batch.some((p) => faulty.has(p.item.id));
    const retry: Pending[] = [];
    for (const pending of batch) {
      if (faulty.has(pending.item.id)) pending.reject(error);
      else retry.push({ ...pending, solo });
    }
    // Nothing was bought: the others go again, ahead of purchases asked for since.
    this.queue.unshift(...retry);
    this.schedule();
  }
}
