import { BirdApiError } from "./errors.js";
import { UNKNOWN_ROUTE } from "./routes.js";
import type { Page } from "./types.js";

/**
 * Every item of a paginated list, fetching pages as they are consumed. An absent `nextPageToken`
 * ends the list. A token seen before would loop forever, so it fails as a transient malformed answer instead.
 */
export async function* paginate<T>(
  fetchPage: (pageToken?: string) => Promise<Page<T>>,
  route: string = UNKNOWN_ROUTE,
): AsyncGenerator<T, void, undefined> {
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const page = await fetchPage(token);
    yield* page.results;
    // `||`: an empty or null token (not in the contract, but cheap to survive) also ends the list.
    token = page.nextPageToken || undefined;
    if (token !== undefined && seen.has(token)) {
      throw new BirdApiError({
        method: "GET",
        route,
        status: 200,
        kind: "transient",
        message: `Bird GET ${route} returned a malformed response body: a page token repeated, pagination stopped`,
      });
    }
    if (token !== undefined) {
      seen.add(token);
    }
  } while (token !== undefined);
}
