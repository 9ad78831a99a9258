/**
 * Keys that wait for something the controller does not own to change: a PhoneNumber refused a record (held by another
 * resource) waits for that record to change or go. `notify(topic)` wakes them once. Bounded: past `maxTopics` the
 * oldest topic is forgotten, and past `maxKeys` on one topic (copies created and deleted against one record) its oldest
 * key; a forgotten key still comes back at its resync.
 */
export class Waiters {
  private readonly waiting = new Map<string, Set<string>>();

  constructor(
    private readonly wake: (key: string) => void,
    private readonly maxTopics = 10_000,
    private readonly maxKeys = 1_000,
  ) {}

  wait(topic: string, key: string): void {
    const keys = this.waiting.get(topic) ?? new Set<string>();
    keys.delete(key);
    keys.add(key);
    if (keys.size > this.maxKeys) keys.delete(keys.values().next().value as string);
    this.waiting.delete(topic);
    this.waiting.set(topic, keys);
    if (this.waiting.size > this.maxTopics) {
      const oldest = this.waiting.keys().next().value;
      if (oldest !== undefined) this.waiting.delete(oldest);
    }
  }

  notify(topic: string): void {
    const keys = this.waiting.get(topic);
    if (!keys) return;
    this.waiting.delete(topic);
    for (const key of keys) this.wake(key);
  }

  get size(): number {
    return this.waiting.size;
  }
}
