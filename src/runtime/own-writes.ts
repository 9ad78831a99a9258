import type { KubernetesObject } from "@kubernetes/client-node";

/**
 * The resourceVersions our own writes produced. A watch event carrying one of them tells the controller nothing new:
 * the reconcile that wrote it held the result and went on (or requeued itself), so the event need not wake the key
 * again. Without this, every finalizer, intent or id update costs a second reconcile of the same object.
 * resourceVersions are unique across a cluster, so one set serves every kind. Entries whose event never came (a
 * relist skipped it) expire.
 */
export class OwnWrites {
  private readonly versions = new Map<string, number>();

  constructor(
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  record(object: KubernetesObject | undefined): void {
    const version = object?.metadata?.resourceVersion;
    if (!version) return;
    if (this.versions.size >= 1024) this.expire();
    this.versions.set(version, this.now() + this.ttlMs);
  }

  /** Whether the object is exactly what one of our writes left; forgets the write either way it is seen. */
  consume(object: KubernetesObject): boolean {
    const version = object.metadata?.resourceVersion;
    return version !== undefined && this.versions.delete(version);
  }

  get size(): number {
    return this.versions.size;
  }

  /** Entries are kept in insertion order with one lifetime, so the expired ones are a prefix. */
  private expire(): void {
    const now = this.now();
    for (const [version, expiresAt] of this.versions) {
      if (expiresAt > now) return;
      this.versions.delete(version);
    }
  }
}
