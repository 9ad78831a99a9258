import { BirdApiError } from "./errors.js";
import { UNKNOWN_ROUTE } from "./routes.js";
import type { Page } from "./types.js";

/**
 * Every item of a paginated list, fetching pages as they are consumed. With `prefetch`, for a consumer that reads the
 * whole list, the next page is asked for as soon as a page arrives, before its items are handed on, so that what the
 * consumer does with them overlaps the next round trip (a big workspace is a thousand pages of ~50 ms each); a
 * consumer that stops early would cost that page for nothing. An absent `nextPageToken` ends the list. A token seen
 * before would loop forever, so it fails as a transient malformed answer instead.
 */
export async function* paginate<T>(
  fetchPage: (pageToken?: string) => Promise<Page<T>>,
  route: string = UNKNOWN_ROUTE,
  options: { prefetch?: boolean } = {},
): AsyncGenerator<T, void, undefined> {
  const seen = new Set<string>();
  let next: Promise<Page<T>> | undefined = fetchPage(undefined);
  try {
    while (next) {
      const page: Page<T> = await next;
      next = undefined;
      // `||`: an empty or null token (not in the contract, but cheap to survive) also ends the list.
      const token = page.nextPageToken || undefined;
      if (token !== undefined && seen.has(token)) throw repeatedToken(route);
      if (token !== undefined) seen.add(token);
      const fetchNext = (): Promise<Page<T>> | undefined => (token === undefined ? undefined : fetchPage(token));
      if (options.prefetch) next = fetchNext();
      yield* page.results;
      if (!options.prefetch) next = fetchNext();
    }
  } finally {
    // A consumer that stops early (or fails) leaves at most one page in flight: its answer or error is dropped.
    next?.catch(() => undefined);
  }
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
