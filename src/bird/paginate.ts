import { BirdApiError } from "./errors.js";
import { UNKNOWN_ROUTE } from "./routes.js";
import type { Page } from "./types.js";

/**
 * Every item of a paginated list, fetching pages as they are consumed: a consumer that stops early costs no page it
 * did not read. An absent `nextPageToken` ends the list. A token seen before would loop forever, so it fails as a
 * transient malformed answer instead.
 */
export async function* paginate<T>(
  fetchPage: (pageToken?: string) => Promise<Page<T>>,
  route: string = UNKNOWN_ROUTE,
): AsyncGenerator<T, void, undefined> {
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const page: Page<T> = await fetchPage(token);
    // `||`: an empty or null token (not in the contract, but cheap to survive) also ends the list.
    token = page.nextPageToken || undefined;
    if (token !== undefined && seen.has(token)) throw repeatedToken(route);
    if (token !== undefined) seen.add(token);
    yield* page.results;
  } while (token !== undefined);
}

function repeatedToken(route: string): BirdApiError {
  return new BirdApiError({
    method: "GET",
    route,
    status: 200,
    kind: "transient",
    message: `Bird GET ${route} returned a malformed response body: a page token repeated, pagination stopped`,
  });
}

export interface BothEndsOptions {
  /** Items per page: what the meeting estimate counts in. */
  pageSize: number;
  /** The second chain starts once the first has read this many pages and the list goes on (short lists: one chain). */
  reverseAfterPages?: number;
}

/**
 * Every item of a list ordered by creation date, read from both ends at once: one chain of pages from the oldest, one
 * (`reverse`) from the newest, so that a workspace of 100,000 numbers (1,011 pages, each needing the last one's token)
 * takes half the round trips in a row. An item may come twice, where the two chains meet.
 *
 * The chains stop where they meet, and when they have met rests only on Bird's documented order (ascending creation
 * date, `reverse` descending), never on ties being broken the same way in both directions: the first chain stops
 * once its newest item is strictly newer than the oldest the second chain has shown. Every item not shown by either
 * would then be at least as new as the one and at least as old as the other. A chain whose dates go the wrong way (or
 * are missing), or a first chain that shows something newer than the second chain's first (newest) item, ends the
 * two-ended read: the first chain then reads to the end, as a one-ended list does.
 *
 * A failing second chain ends only itself; the first chain's failure fails the list. Numbers created while the list
 * is in flight may be missing (the second chain started before them): the inventory adds those it bought itself.
 */
export function paginateBothEnds<T>(
  fetchPage: (reverse: boolean, pageToken?: string) => Promise<Page<T>>,
  createdAt: (item: T) => string | undefined,
  route: string,
  options: BothEndsOptions,
): AsyncGenerator<T, void, undefined> {
  return new BothEnds(fetchPage, createdAt, route, options).items();
}

/** The two chains of paginateBothEnds, and the pages they brought that the consumer has not taken yet. */
class BothEnds<T> {
  private readonly ends: MeetingPoint;
  private readonly ready: T[][] = [];
  private notify: (() => void) | undefined;
  private failure: { error: unknown } | undefined;
  private running = 0;
  private stopped = false;
  /** The second chain's page in flight: near the meeting point the first chain waits for it rather than overlap it. */
  private reversePage: Promise<unknown> | undefined;

  constructor(
    private readonly fetchPage: (reverse: boolean, pageToken?: string) => Promise<Page<T>>,
    private readonly createdAt: (item: T) => string | undefined,
    private readonly route: string,
    private readonly options: BothEndsOptions,
  ) {
    this.ends = new MeetingPoint(options.pageSize);
  }

  async *items(): AsyncGenerator<T, void, undefined> {
    this.start(false);
    try {
      for (;;) {
        const items = this.ready.shift();
        if (items) yield* items;
        else if (this.failure) throw this.failure.error;
        else if (this.running === 0) return;
        else await new Promise<void>((resolve) => (this.notify = resolve));
      }
    } finally {
      // A consumer that stops early leaves at most one page in flight per chain; their answers are dropped.
      this.stopped = true;
    }
  }

  private start(reverse: boolean): void {
    this.running++;
    this.chain(reverse)
      .catch((error: unknown) => {
        if (reverse) this.ends.abandon();
        else this.failure ??= { error };
      })
      .finally(() => {
        this.running--;
        this.wake();
      });
  }

  private async chain(reverse: boolean): Promise<void> {
    const tokens = new Set<string>();
    let token: string | undefined;
    let pages = 0;
    do {
      while (!reverse && this.reversePage && this.ends.closedByOther(reverse))
        await this.reversePage.catch(() => undefined);
      if (this.stopped || this.ends.done(reverse)) return;
      const page = await this.fetch(reverse, token);
      if (this.stopped) return;
      token = page.nextPageToken || undefined;
      if (token !== undefined && tokens.has(token)) throw repeatedToken(this.route);
      if (token !== undefined) tokens.add(token);
      this.ends.observe(reverse, page.results.map(this.createdAt));
      this.ready.push(page.results);
      this.wake();
      pages++;
      if (!reverse && token !== undefined && pages === (this.options.reverseAfterPages ?? 20)) this.start(true);
    } while (token !== undefined);
    this.ends.reachedEnd(reverse);
  }

  private fetch(reverse: boolean, token: string | undefined): Promise<Page<T>> {
    this.ends.inFlight(reverse, true);
    const request = this.fetchPage(reverse, token).finally(() => {
      this.ends.inFlight(reverse, false);
      if (reverse) this.reversePage = undefined;
    });
    if (reverse) this.reversePage = request;
    return request;
  }

  private wake(): void {
    this.notify?.();
    this.notify = undefined;
  }
}

/** Where the two chains of paginateBothEnds stand: the newest date the first showed, the oldest the second showed. */
class MeetingPoint {
  private forwardFirst = Number.NaN;
  private forwardLast = Number.NEGATIVE_INFINITY;
  private reverseFirst = Number.NaN;
  private reverseLast = Number.POSITIVE_INFINITY;
  private forwardCount = 0;
  private reverseCount = 0;
  private ordered = true;
  private forwardEnded = false;
  private reverseEnded = false;
  /** Pages in flight, per chain: what is about to close the gap. */
  private readonly flying = { forward: false, reverse: false };

  constructor(private readonly pageSize: number) {}

  /** A page's creation dates, in the order the chain showed them. */
  observe(reverse: boolean, dates: (string | undefined)[]): void {
    for (const date of dates) {
      const at = date === undefined ? Number.NaN : Date.parse(date);
      if (Number.isNaN(at)) this.ordered = false;
      else if (reverse) {
        // The newest item comes first, so nothing the first chain showed can be newer.
        if (at > this.reverseLast || (Number.isNaN(this.reverseFirst) && at < this.forwardLast)) this.ordered = false;
        if (Number.isNaN(this.reverseFirst)) this.reverseFirst = at;
        this.reverseLast = at;
        this.reverseCount++;
      } else {
        if (at < this.forwardLast || at > this.reverseFirst) this.ordered = false;
        if (Number.isNaN(this.forwardFirst)) this.forwardFirst = at;
        this.forwardLast = at;
        this.forwardCount++;
      }
    }
  }

  /** The chain reached the list's own end: it showed every item. */
  reachedEnd(reverse: boolean): void {
    if (reverse) this.reverseEnded = true;
    else this.forwardEnded = true;
  }

  /** Back to one chain: the first reads to the end. */
  abandon(): void {
    this.ordered = false;
  }

  /** Whether every item has been shown by one chain or the other. */
  met(): boolean {
    return this.ordered && this.forwardLast > this.reverseLast;
  }

  /** Whether the chain should stop before asking for another page. */
  done(reverse: boolean): boolean {
    if (this.forwardEnded || this.reverseEnded || this.met()) return true;
    // Near the meeting point only the first chain goes on: two pages in flight at once there would overlap.
    return reverse && (!this.ordered || this.gapIsSmall());
  }

  inFlight(reverse: boolean, flying: boolean): void {
    this.flying[reverse ? "reverse" : "forward"] = flying;
  }

  /** The other chain's page in flight is estimated to close the gap: wait for it instead of overlapping it. */
  closedByOther(reverse: boolean): boolean {
    return this.ordered && !this.met() && this.gapAfterOther(reverse) <= 0;
  }

  /** Fewer than two pages of items estimated between the chains once the other chain's page in flight is in. */
  private gapIsSmall(): boolean {
    return this.gapAfterOther(true) < 2 * this.pageSize;
  }

  private gapAfterOther(reverse: boolean): number {
    const otherFlying = reverse ? this.flying.forward : this.flying.reverse;
    return this.gapItems() - (otherFlying ? this.pageSize : 0);
  }

  /** Items estimated between the chains, by their dates' density so far (Infinity while unknown). */
  private gapItems(): number {
    const gapMs = this.reverseLast - this.forwardLast;
    if (!(gapMs > 0)) return 0;
    const spanMs = this.forwardLast - this.forwardFirst + (this.reverseFirst - this.reverseLast);
    if (!(spanMs > 0)) return Number.POSITIVE_INFINITY;
    return (gapMs * (this.forwardCount + this.reverseCount)) / spanMs;
  }
}
