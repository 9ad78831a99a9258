/**
 * Shares equal strings between cached objects. JSON.parse gives every value its own copy, so 100,000 cached
 * PhoneNumbers hold 100,000 copies of their namespace, workspace name, condition reasons, capability names and
 * timestamps (most were written in the same few seconds). Kept through this pool, each distinct value is held once:
 * about a third of a cached object's memory (bench: scale).
 *
 * The pool is bounded: when it holds `maxEntries` strings it starts afresh. Strings already shared stay shared; only
 * the pool's own index goes. Objects are changed in place; only string values are replaced, never structure.
 */
/**
 * Fields whose values differ from number to number: ids, versions, the number itself, the record's name. Pooling them
 * shares little (the same value under another object arrives, at best, when the bounded pool has started afresh many
 * times over: 100,000 numbers hold about 600,000 of them) and costs an entry and a lookup each. A `name` next to a
 * `uid` (an object's metadata, a claim reference) is one of them too; other names (a workspace reference) repeat. So
 * is any value shaped like a UUID, wherever it is (a label naming a claim's uid).
 *
 * Within one object they often repeat, though: a number's id is also its endpoint's id, the number is in spec and
 * status, a record's claim uid is in a label and in its claim reference. JSON.parse makes each its own copy; one
 * object's equal unique values are made one (100,000 numbers: about 30 MB).
 */
const UNIQUE_KEYS = new Set(["uid", "resourceVersion", "id", "numberId", "endpointId", "numberString", "boundTo"]);

/** `8-4-4-4-12` hex digits with dashes: a uid, unique to its object. */
function isUuidShaped(value: string): boolean {
  return (
    value.length === 36 &&
    value.charCodeAt(8) === 45 &&
    value.charCodeAt(13) === 45 &&
    value.charCodeAt(18) === 45 &&
    value.charCodeAt(23) === 45
  );
}

export class StringPool {
  private pool = new Map<string, string>();

  constructor(
    private readonly maxEntries = 200_000,
    /** Longer strings (messages, annotations with JSON) are rarely repeated: not worth an entry. */
    private readonly maxLength = 128,
  ) {}

  intern(value: string): string {
    if (value.length > this.maxLength) return value;
    const held = this.pool.get(value);
    if (held !== undefined) return held;
    if (this.pool.size >= this.maxEntries) this.pool = new Map();
    this.pool.set(value, value);
    return value;
  }

  /**
   * Replaces every string value in `value` (objects and arrays, recursively) by its pooled copy, and equal unique
   * values within `value` by one of them; returns `value`.
   */
  internAll<T>(value: T): T {
    return this.walk(value, []);
  }

  get size(): number {
    return this.pool.size;
  }

  /** `unique`: the unique values seen so far in the object being walked (a handful: searched in a row). */
  private walk<T>(value: T, unique: string[]): T {
    // A frozen value is shared already (ValuePool), and cannot be changed anyway.
    if (Object.isFrozen(value)) return value;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = this.value(value[i], unique, false);
    } else if (value !== null && typeof value === "object") {
      const record = value as Record<string, unknown>;
      const named = "uid" in record;
      for (const key of Object.keys(record))
        record[key] = this.value(record[key], unique, UNIQUE_KEYS.has(key) || (named && key === "name"));
    }
    return value;
  }

  private value(value: unknown, unique: string[], uniqueKey: boolean): unknown {
    if (typeof value === "string") return uniqueKey || isUuidShaped(value) ? once(value, unique) : this.intern(value);
    if (value !== null && typeof value === "object") return this.walk(value, unique);
    return value;
  }
}

/**
 * Unique values remembered per object: a number's objects hold about ten. Bounded, so that an object of thousands of
 * them (a tenant's annotations) costs a walk, never a search per value over all the others.
 */
const MAX_UNIQUE_PER_OBJECT = 32;

/** The copy of `value` already in `seen`, else `value` (now in `seen`, while it has room). */
function once(value: string, seen: string[]): string {
  for (const held of seen) if (held === value) return held;
  if (seen.length < MAX_UNIQUE_PER_OBJECT) seen.push(value);
  return value;
}

/** The pool every informer cache and Bird inventory of this process shares. */
export const sharedStrings = new StringPool();

/**
 * Shares equal small read-only values (a Bird number's capabilities, which are the same for every number of a kind):
 * the first one seen is frozen and handed out for every equal one. Bounded like StringPool. Only for values nobody
 * changes: they are frozen, so a change throws instead of changing every holder.
 */
export class ValuePool {
  private pool = new Map<string, unknown>();

  constructor(private readonly maxEntries = 10_000) {}

  /** `value`, or the equal value shared before; a value whose JSON is longer than `maxJson` is left alone. */
  share<T>(value: T, maxJson = Infinity): T {
    if (value === null || typeof value !== "object") return value;
    const key = JSON.stringify(value);
    if (key.length > maxJson) return value;
    const held = this.pool.get(key);
    if (held !== undefined) return held as T;
    if (this.pool.size >= this.maxEntries) this.pool = new Map();
    this.pool.set(key, deepFreeze(value));
    return value;
  }
}

/** Values longer than this as JSON are rarely equal across objects (a status, a big spec): not worth a pool entry. */
const MAX_SHARED_JSON = 256;

/**
 * Shares the small parts of an object's `spec` and `status` that many objects hold alike: a workspace reference, a
 * price, capabilities, issues, a condition, a destination row, the finalizer list. Bottom-up: a part is shared once
 * all of its own parts are values or shared, so a list of shared conditions is shared too when equal. The object
 * itself and its metadata (names, uids, versions) stay its own. Shared parts are frozen: a cache's objects are read,
 * never changed in place (writes start from copies), and a change in place would now throw instead.
 */
export function shareParts(object: { metadata?: { finalizers?: string[] }; spec?: unknown; status?: unknown }): void {
  if (object.metadata?.finalizers) object.metadata.finalizers = sharedParts.share(object.metadata.finalizers);
  for (const part of [object.spec, object.status]) {
    if (part === null || typeof part !== "object" || Object.isFrozen(part)) continue;
    const record = part as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = shareTree(record[key]);
  }
}

/** The value, or the pool's equal frozen copy when it is small and made only of values and shared parts. */
function shareTree(value: unknown): unknown {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  const record = value as Record<string, unknown>;
  let shareable = true;
  for (const key of Object.keys(record)) {
    const inner = record[key];
    // A part holding a value unique to its object (a claim reference's uid) is never equal to another's: not worth
    // the JSON its pool key would cost.
    if (UNIQUE_KEYS.has(key)) shareable = false;
    if (inner === null || typeof inner !== "object") continue;
    const shared = shareTree(inner);
    record[key] = shared;
    if (!Object.isFrozen(shared)) shareable = false;
  }
  return shareable ? sharedParts.share(value, MAX_SHARED_JSON) : value;
}

const sharedParts = new ValuePool(20_000);

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
