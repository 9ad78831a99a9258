const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const ITEMS_KEY = Buffer.from('"items"');
/** The list is depth 1, its items array 2, an item 3, its metadata 4: managedFields is an array at depth 5. */
const MANAGED_FIELDS_DEPTH = 5;
const MANAGED_FIELDS_KEY = /[{,]\s*"managedFields"\s*:\s*$/;
const METADATA_KEY = /[{,]\s*"metadata"\s*:\s*$/;

/**
 * Decodes a Kubernetes list response (`{"kind":…,"metadata":{…},"items":[{…},{…}]}`) as its bytes arrive: each item is
 * parsed on its own and handed to `onItem` as soon as its last byte is in, and the rest of the document (kind,
 * metadata with resourceVersion and continue) is kept and parsed at the end, with `items` empty. A list of 100,000
 * objects is about 130 MB of JSON: read whole, it and its parsed copy would be in memory at once.
 *
 * Each item's `metadata.managedFields` is cut out before it is parsed (it arrives as an empty list): often the
 * largest part of an object, nothing here reads it, and parsing it only to drop it was a third of a cache's load.
 *
 * Works on bytes: JSON's structural characters are ASCII, and no byte of a multi-byte UTF-8 character is below 0x80,
 * so an item boundary is never inside one; each item's bytes are decoded as UTF-8 once complete.
 */
export class ListDecoder<T> {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Depth 1 is the list object; the items array is depth 2 and each item starts at depth 3. */
  private inItems = false;
  private itemChunks: Buffer[] = [];
  private itemStart = -1;
  /** The document without its items' contents. */
  private readonly skeleton: Buffer[] = [];
  private skeletonTail = Buffer.alloc(0);
  /** During write: where the chunk's skeleton bytes start (-1: none, inside the items). */
  private copyFrom = 0;
  /** Inside an item's metadata (the only place whose managedFields are cut). */
  private inMetadata = false;
  /** Inside an item's managedFields: the depth at which its bytes resume (-1: not skipping). */
  private skipUntil = -1;
  count = 0;

  constructor(private readonly onItem: (item: T) => void) {}

  /**
   * Decodes `chunk`. With `yieldNow`, asked after each item: when it says so, decoding stops right after that item and
   * the rest of the chunk is returned, to be written next (a list of 100,000 objects decodes for seconds; its caller
   * lets other work run in between). Undefined: the whole chunk was decoded.
   */
  write(chunk: Buffer, yieldNow?: () => boolean): Buffer | undefined {
    // Outside the items, bytes from here on belong to the skeleton; inside, only an item's own bytes are kept.
    this.copyFrom = this.inItems ? -1 : 0;
    if (this.itemStart >= 0) this.itemStart = 0;
    // The scan keeps its state in locals (a field read and write per byte made it the cache load's hottest loop), and
    // skips through strings with the native indexOf (most of an object's bytes are inside strings).
    let inString = this.inString;
    let escaped = this.escaped;
    const length = chunk.length;
    /** The next backslash at or after the scan (-1: none left in this chunk), found lazily and reused. */
    let backslash = -2;
    for (let i = 0; i < length; i++) {
      if (inString) {
        if (escaped) {
          // The escaped byte itself, whatever it is (a quote included).
          escaped = false;
          continue;
        }
        const quote = chunk.indexOf(QUOTE, i);
        const end = quote === -1 ? length : quote;
        if (backslash !== -1 && backslash < i) backslash = chunk.indexOf(BACKSLASH, i);
        if (backslash !== -1 && backslash < end) {
          i = backslash;
          escaped = true;
        } else {
          i = end;
          if (quote !== -1) inString = false;
        }
        continue;
      }
      const byte = chunk[i] as number;
      if (byte === QUOTE) inString = true;
      else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.open(chunk, i, byte);
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        if (this.close(chunk, i) && i + 1 < length && yieldNow?.()) return this.stopAfter(chunk, i);
      }
    }
    this.inString = inString;
    this.escaped = escaped;
    if (this.itemStart >= 0) this.itemChunks.push(chunk.subarray(this.itemStart));
    else if (this.copyFrom >= 0) this.keep(chunk.subarray(this.copyFrom));
    return undefined;
  }

  private open(chunk: Buffer, i: number, byte: number): void {
    this.depth++;
    if (this.inItems && this.depth === 3) {
      this.itemStart = i;
    } else if (this.inItems && this.depth === MANAGED_FIELDS_DEPTH - 1 && byte === OPEN_BRACE) {
      this.inMetadata = this.afterItemKey(chunk, i, METADATA_KEY);
    } else if (this.inMetadata && this.skipUntil < 0 && this.depth === MANAGED_FIELDS_DEPTH && byte === OPEN_BRACKET) {
      if (this.afterItemKey(chunk, i, MANAGED_FIELDS_KEY)) {
        // The item keeps `"managedFields":[`; its bytes resume at the matching `]`.
        this.itemChunks.push(chunk.subarray(this.itemStart, i + 1));
        this.itemStart = -1;
        this.skipUntil = MANAGED_FIELDS_DEPTH - 1;
      }
    } else if (!this.inItems && this.depth === 2 && byte === OPEN_BRACKET && this.afterItemsKey(chunk, i)) {
      this.inItems = true;
      this.keep(chunk.subarray(this.copyFrom, i + 1));
      this.copyFrom = -1;
    }
  }

  /** Stops right after the item that ends at `i`: between two items nothing is held (no string, no item begun). */
  private stopAfter(chunk: Buffer, i: number): Buffer {
    this.inString = false;
    this.escaped = false;
    return chunk.subarray(i + 1);
  }

  /** True when the bracket at `i` closed an item (handed to onItem). */
  private close(chunk: Buffer, i: number): boolean {
    this.depth--;
    if (this.skipUntil >= 0) {
      if (this.depth === this.skipUntil) {
        this.skipUntil = -1;
        this.itemStart = i;
      }
      return false;
    }
    if (this.depth === MANAGED_FIELDS_DEPTH - 2) this.inMetadata = false;
    if (this.inItems && this.depth === 2 && this.itemStart >= 0) {
      this.itemChunks.push(chunk.subarray(this.itemStart, i + 1));
      this.emit();
      this.itemStart = -1;
      return true;
    } else if (this.inItems && this.depth === 1) {
      this.inItems = false;
      this.copyFrom = i;
    }
    return false;
  }

  /** The document without its items, parsed (its `items` is empty); throws if the bytes were not a whole document. */
  end<D>(): D {
    if (this.depth !== 0 || this.inString) throw new Error("the list answer ended in the middle of its JSON");
    return JSON.parse(Buffer.concat(this.skeleton).toString("utf8")) as D;
  }

  private emit(): void {
    const chunks = this.itemChunks;
    // Most items lie within one chunk: decoded from it directly, without a copy.
    const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString("utf8");
    this.itemChunks = [];
    this.count++;
    this.onItem(JSON.parse(text) as T);
  }

  private keep(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.skeleton.push(Buffer.from(bytes));
    this.skeletonTail = Buffer.concat([this.skeletonTail, bytes]).subarray(-32);
  }

  /** Whether what precedes `at` in the current item is the key `key` matches ("metadata", "managedFields"). */
  private afterItemKey(chunk: Buffer, at: number, key: RegExp): boolean {
    let before = chunk.subarray(Math.max(this.itemStart, at - 40), at).toString("latin1");
    for (let k = this.itemChunks.length - 1; k >= 0 && before.length < 40; k--)
      before = (this.itemChunks[k] as Buffer).subarray(-40).toString("latin1") + before;
    return key.test(before);
  }

  /** Whether the `[` at `at` opens the value of the top-level "items" key (only whitespace and `:` in between). */
  private afterItemsKey(chunk: Buffer, at: number): boolean {
    const before = Buffer.concat([this.skeletonTail, chunk.subarray(Math.max(this.copyFrom, at - 32), at)])
      .toString("latin1")
      .replace(/[\s:]+$/, "");
    return before.endsWith(ITEMS_KEY.toString("latin1"));
  }
}

/** How a Kubernetes object's managedFields begin in the API server's compact JSON. */
const MANAGED_FIELDS_START = '"managedFields":[';

/**
 * One watch event's JSON with its object's `metadata.managedFields` emptied, before it is parsed: the informer drops
 * them anyway, and each of the operator's own writes comes back as an event whose managedFields are a large part of
 * it. The text `"managedFields":[` cannot occur inside a JSON string (its quotes would be escaped), and the watched
 * kinds have no other field of that name; JSON that does not match is returned unchanged, for JSON.parse to judge.
 */
export function withoutManagedFields(json: string): string {
  const at = json.indexOf(MANAGED_FIELDS_START);
  if (at < 0) return json;
  const open = at + MANAGED_FIELDS_START.length - 1;
  const close = matchingClose(json, open);
  return close < 0 ? json : json.slice(0, open + 1) + json.slice(close);
}

/** The index of the bracket closing the one at `open`, strings skipped; -1 if the JSON ends first. */
function matchingClose(json: string, open: number): number {
  let depth = 0;
  let inString = false;
  for (let i = open; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) return i;
  }
  return -1;
}
