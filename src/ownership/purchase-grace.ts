import type { BirdNumber } from "../api/v1alpha1/index.js";

/** Beyond this many remembered attempts, those whose grace has passed are dropped. */
const PRUNE_AT = 1000;

/**
 * When a purchase still unresolved (its record Purchasing after an unclear answer, a crash or a failover) may be taken
 * as never having reached Bird. Bird may take up to the grace to list a number it sold, so the grace must run from the
 * last moment the buy could have reached Bird, not from the claim: a buy waits in the workspace's batcher (rate
 * limits, 429 retries) before it goes out, for minutes when Bird throttles.
 *
 * This process knows its own attempts: while one is in flight the purchase is never given up, and after one the grace
 * runs from its end. An attempt it did not make (a previous process's, or a replica that led before) ended before this
 * process began to lead (`leading`), so the grace runs at least from then.
 */
export class PurchaseGrace {
  private readonly inFlight = new Map<string, number>();
  private readonly ended = new Map<string, number>();
  private leadingSince: number;

  constructor(
    readonly graceMs: number,
    private readonly now: () => Date,
  ) {
    this.leadingSince = now().getTime();
  }

  /** This process leads from now: whatever an earlier leader sent, it sent before. */
  leading(): void {
    this.leadingSince = this.now().getTime();
  }

  /** The buy for the record goes out now (into the batcher); `done` once its answer, or its failure, is in. */
  sending(record: string): { done: () => void } {
    this.inFlight.set(record, (this.inFlight.get(record) ?? 0) + 1);
    return {
      done: () => {
        const left = (this.inFlight.get(record) ?? 1) - 1;
        if (left > 0) this.inFlight.set(record, left);
        else this.inFlight.delete(record);
        this.prune();
        this.ended.set(record, this.now().getTime());
      },
    };
  }

  /**
   * Milliseconds until the record's purchase counts as never having reached Bird (zero or less: it does now); Infinity
   * while this process's buy for it is still in flight.
   */
  remainingMs(record: BirdNumber): number {
    const name = record.metadata?.name ?? "";
    if (this.inFlight.has(name)) return Number.POSITIVE_INFINITY;
    const started = Date.parse(String(record.status?.purchase?.startedAt ?? record.metadata?.creationTimestamp ?? ""));
    const from = Math.max(Number.isNaN(started) ? 0 : started, this.ended.get(name) ?? this.leadingSince);
    return from + this.graceMs - this.now().getTime();
  }

  /** Attempts whose grace has passed say nothing more than `leadingSince` does (they ended after it). */
  private prune(): void {
    if (this.ended.size < PRUNE_AT) return;
    const before = this.now().getTime() - this.graceMs;
    for (const [name, at] of this.ended) if (at < before) this.ended.delete(name);
  }
}
