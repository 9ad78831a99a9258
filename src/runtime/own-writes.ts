import type { KubernetesObject } from "@kubernetes/client-node";
import { newerVersion } from "./resource-version.js";

/**
 * The resourceVersions our own writes produced. A watch event carrying one of them tells the controller nothing new:
 * the reconcile that wrote it held the result and went on (or requeued itself), so the event need not wake the key
 * again. Without this, every finalizer, intent or id update costs a second reconcile of the same object.
 * resourceVersions are unique across a cluster, so one set serves every kind. Entries whose event never came (a
 * relist skipped it) expire.
 *
 * It also keeps, per object (uid), the last version our writes gave it until the cache shows that version or a later
 * one: a reconcile must not act on a cached object older than its own last write (a status that does not show the
 * destinations it just activated would have them activated again).
 */
export class OwnWrites {
  private readonly versions = new Map<string, number>();
  private readonly latest = new Map<string, { object: KubernetesObject; expiresAt: number }>();

  constructor(
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  record(object: KubernetesObject | undefined): void {
    const version = object?.metadata?.resourceVersion;
    if (!version) return;
    if (this.versions.size >= 1024 || this.latest.size >= 1024) this.expire();
    this.versions.set(version, this.now() + this.ttlMs);
    const uid = object.metadata?.uid;
    if (!uid) return;
    const known = this.latest.get(uid);
    if (known && newerVersion(known.object, object)) return;
    this.latest.delete(uid);
    this.latest.set(uid, {
      object: { metadata: { uid, resourceVersion: version } },
      expiresAt: this.now() + this.ttlMs,
    });
  }

  /**
   * Whether `cached` predates a write of ours to the same object: the cache has not caught up yet. Once it has (or the
   * write expired: a watch that never shows it), the object is forgotten.
   */
  behind(cached: KubernetesObject): boolean {
    const uid = cached.metadata?.uid;
    const known = uid === undefined ? undefined : this.latest.get(uid);
    if (!known || !uid) return false;
    if (known.expiresAt > this.now() && newerVersion(known.object, cached)) return true;
    this.latest.delete(uid);
    return false;
  }

  /** The cache shows this object (an informer event): our earlier writes to it are no longer ahead of it. */
  seen(object: KubernetesObject, deleted = false): void {
    const uid = object.metadata?.uid;
    const known = uid === undefined ? undefined : this.latest.get(uid);
    if (known && uid && (deleted || !newerVersion(known.object, object))) this.latest.delete(uid);
  }

  /** Objects whose cache has not shown our last write yet (tests, and a bound on what is held). */
  get pending(): number {
    return this.latest.size;
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
      if (expiresAt > now) break;
      this.versions.delete(version);
    }
    for (const [uid, { expiresAt }] of this.latest) {
      if (expiresAt > now) break;
      this.latest.delete(uid);
    }
  }
}
