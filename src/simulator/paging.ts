import { ApiError } from "./errors.js";

/** Records carry an ever-increasing sequence number, so a cursor stays valid while records come and go. */
export interface Sequenced {
  seq: number;
}

export interface PageRequest {
  limit: number;
  reverse: boolean;
  pageToken?: string;
}

export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

interface Cursor {
  k: string;
  s: number;
}

export function encodePageToken(list: string, seq: number): string {
  return Buffer.from(JSON.stringify({ k: list, s: seq } satisfies Cursor)).toString("base64url");
}

function invalidToken(reason: string): ApiError {
  return new ApiError(422, "invalid-page-token", `Invalid pageToken: ${reason}`, { field: "pageToken" });
}

export function decodePageToken(token: string, list: string): number {
  let cursor: unknown;
  try {
    cursor = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidToken("not a token this API issued");
  }
  const { k, s } = (cursor ?? {}) as Partial<Cursor>;
  if (typeof s !== "number" || !Number.isInteger(s)) throw invalidToken("not a token this API issued");
  if (k !== list) throw invalidToken("issued for another list");
  return s;
}

/** Index of the first record with seq > after (records are sorted by seq). */
function firstAfter(records: readonly Sequenced[], after: number): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((records[mid] as Sequenced).seq <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * One page of `records` (sorted by seq) after the token's position, in O(page) for unfiltered lists: a binary
 * search finds the start, and the scan stops at the first match beyond the page, which decides `nextPageToken`.
 */
export function pageBySeq<T extends Sequenced>(
  records: readonly T[],
  list: string,
  request: PageRequest,
  matches: (record: T) => boolean = () => true,
): Page<T> {
  const after = request.pageToken === undefined ? undefined : decodePageToken(request.pageToken, list);
  const step = request.reverse ? -1 : 1;
  let index: number;
  if (after === undefined) index = request.reverse ? records.length - 1 : 0;
  else index = request.reverse ? firstAfter(records, after - 1) - 1 : firstAfter(records, after);
  const items: T[] = [];
  for (; index >= 0 && index < records.length; index += step) {
    const record = records[index] as T;
    if (!matches(record)) continue;
    if (items.length === request.limit) {
      const last = items[items.length - 1] as T;
      return { items, nextPageToken: encodePageToken(list, last.seq) };
    }
    items.push(record);
  }
  return { items };
}

/** Removes the record with `seq` from a seq-sorted array; false if absent. */
export function removeBySeq(records: Sequenced[], seq: number): boolean {
  const index = firstAfter(records, seq - 1);
  if (records[index]?.seq !== seq) return false;
  records.splice(index, 1);
  return true;
}
