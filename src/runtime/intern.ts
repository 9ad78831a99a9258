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
 * Fields whose values differ from object to object: pooling them shares nothing (by the time an object's copy under
 * another name arrives, the bounded pool has started afresh many times over) and costs an entry each.
 */
const UNIQUE_KEYS = new Set(["uid", "resourceVersion"]);

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

  /** Replaces every string value in `value` (objects and arrays, recursively) by its pooled copy; returns `value`. */
  internAll<T>(value: T): T {
    // A frozen value is shared already (ValuePool), and cannot be changed anyway.
    if (Object.isFrozen(value)) return value;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = this.internValue(value[i]);
    } else if (value !== null && typeof value === "object") {
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) if (!UNIQUE_KEYS.has(key)) record[key] = this.internValue(record[key]);
    }
    return value;
  }

  get size(): number {
    return this.pool.size;
  }

  private internValue(value: unknown): unknown {
    if (typeof value === "string") return this.intern(value);
    if (value !== null && typeof value === "object") return this.internAll(value);
    return value;
  }
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

  share<T>(value: T): T {
    if (value === null || typeof value !== "object") return value;
    const key = JSON.stringify(value);
    const held = this.pool.get(key);
    if (held !== undefined) return held as T;
    if (this.pool.size >= this.maxEntries) this.pool = new Map();
    this.pool.set(key, deepFreeze(value));
    return value;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
