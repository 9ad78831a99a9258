import type { KubernetesObject } from "@kubernetes/client-node";
import type { BirdNumber, BirdSender, ClaimReference, RecordPhase } from "../api/v1alpha1/index.js";
import { isApiStatus } from "../runtime/errors.js";
import type { Informer } from "../runtime/informer.js";
import type { ResourceClient } from "../runtime/resource-client.js";
import { newerVersion } from "../runtime/resource-version.js";
import { CLAIM_UID_LABEL } from "./names.js";

export type OwnershipRecord = BirdNumber | BirdSender;

/** The object that claims a record: a PhoneNumber or an AlphaSender. Its uid is what the claim binds to. */
export interface Claimant {
  metadata?: { namespace?: string; name?: string; uid?: string };
}

export const Phase = {
  Available: "Available",
  Reserved: "Reserved",
  Purchasing: "Purchasing",
  Bound: "Bound",
  Released: "Released",
  Lost: "Lost",
} as const satisfies Record<RecordPhase, RecordPhase>;

export function claimOf(claimant: Claimant): ClaimReference {
  const { namespace = "", name, uid } = claimant.metadata ?? {};
  return { namespace, name, uid };
}

/** The record binds exactly this object: same uid. A namespace and name prove nothing (a copy has both). */
export function isHeldBy(record: OwnershipRecord, claimant: Claimant): boolean {
  const uid = claimant.metadata?.uid;
  return uid !== undefined && record.spec.claimRef?.uid === uid;
}

export type Claimability = { ok: true } | { ok: false; message: string };

/**
 * Whether `claimant` may take the record over: nobody holds it, it is reserved for the claimant's namespace, or it was
 * released by that namespace. Anything held elsewhere (or held by another object of the same namespace) is not. The
 * message names the other namespace but never another namespace's object.
 */
export function claimability(record: OwnershipRecord, claimant: Claimant): Claimability {
  const ref = record.spec.claimRef;
  const namespace = claimant.metadata?.namespace;
  const what = `BirdNumber/BirdSender ${record.metadata?.name}`;
  if (!ref || isHeldBy(record, claimant)) return { ok: true };
  if (ref.namespace !== namespace) {
    const how = ref.uid
      ? record.status?.phase === Phase.Released
        ? "was released by"
        : "is held by"
      : "is reserved for";
    return {
      ok: false,
      message:
        `${what} ${how} namespace "${ref.namespace}"; only the platform team can hand it to another namespace ` +
        "(by clearing or changing its spec.claimRef)",
    };
  }
  if (!ref.uid || record.status?.phase === Phase.Released) return { ok: true };
  return {
    ok: false,
    message:
      `${what} is held by ${namespace}/${ref.name ?? "another resource"}; ` +
      "two resources cannot hold one number or sender",
  };
}

/** The phase a record without a holder shows: reserved for a namespace, or free. */
export function unheldPhase(record: OwnershipRecord): RecordPhase {
  return record.spec.claimRef ? Phase.Reserved : Phase.Available;
}

/** A copy of the record bound to `claimant` (claimRef and the uid label), for a create or an update. */
export function boundTo<T extends OwnershipRecord>(record: T, claimant: Claimant): T {
  const claim = claimOf(claimant);
  const labels = { ...record.metadata?.labels, [CLAIM_UID_LABEL]: claim.uid ?? "" };
  return { ...record, metadata: { ...record.metadata, labels }, spec: { ...record.spec, claimRef: claim } };
}

/**
 * The ownership records of one kind: reads come from the informer, indexed by the claiming uid and by workspace;
 * claims are creates (the derived name makes a second claim fail with AlreadyExists) and every other write carries
 * the resourceVersion it was decided on.
 */
export class RecordStore<T extends OwnershipRecord> {
  private readonly byUid = new Map<string, string>();
  private readonly byWorkspace = new Map<string, Set<string>>();
  /**
   * What this process wrote (created, updated), by record name, until the cache shows that version or a newer one: a
   * reconcile that follows our own write must not find the cache's older view (or none) of the record it just wrote.
   */
  private readonly written = new Map<string, { record: T; at: number }>();
  /** The names in `written` by the uid their record binds: a lookup for an object must not walk every write. */
  private readonly writtenByUid = new Map<string, Set<string>>();
  /** The store's revision at the first question (see cacheHasEarlierWrites), and whether the cache has shown it. */
  private since?: Promise<string>;
  private cacheCurrent = false;

  constructor(
    private readonly client: ResourceClient<T>,
    readonly informer: Informer<T>,
    private readonly now: () => number = Date.now,
  ) {
    informer.on((type, record, old) => {
      if (old) this.unindex(old);
      if (type === "delete") this.unindex(record);
      else this.index(record);
      this.caughtUp(type, record);
    });
  }

  get kind(): string {
    return this.client.kind.kind;
  }

  get(name: string): T | undefined {
    return this.informer.get(name);
  }

  /** The record bound to this exact object: the cache's, or what this process wrote if the cache has not seen it. */
  heldBy(claimant: Claimant): T | undefined {
    const uid = claimant.metadata?.uid;
    const name = uid ? this.byUid.get(uid) : undefined;
    const cached = name ? this.informer.get(name) : undefined;
    const held = (record: T): T | undefined => (isHeldBy(record, claimant) ? record : undefined);
    if (cached && isHeldBy(cached, claimant)) return held(this.newest(cached));
    this.expire();
    for (const key of (uid && this.writtenByUid.get(uid)) || []) {
      const record = this.written.get(key)?.record;
      if (record && isHeldBy(record, claimant)) return held(this.newest(this.informer.get(key) ?? record));
    }
    return undefined;
  }

  /**
   * The record bound to this object. When the cache (and this process's own writes) show none, the API server is asked,
   * so that before a claim is made or a finalizer let go, a cache lagging behind another replica's write cannot pass
   * for "holds nothing". `askServer: false` skips that list for an object that has never carried the finalizer, and so
   * never claimed anything: its caller's next write, the finalizer patch, is guarded by a test of the version it read,
   * and fails if the object changed (another replica's finalizer) since. That guard misses one case: the previous
   * leader added the finalizer and wrote a claim, and the tenant removed the finalizer again before this process read
   * the object. So the shortcut is taken only once the cache holds every record written before this process first
   * asked (the previous leader's among them), which is a moment after it starts leading.
   */
  async findHeld(claimant: Claimant, options: { askServer?: boolean } = {}): Promise<T | undefined> {
    const cached = this.heldBy(claimant);
    if (cached) return cached;
    const uid = claimant.metadata?.uid;
    if (!uid || (options.askServer === false && (await this.cacheHasEarlierWrites()))) return undefined;
    const fresh = await this.client.list({ labelSelector: `${CLAIM_UID_LABEL}=${uid}` });
    return fresh.find((record) => isHeldBy(record, claimant));
  }

  /**
   * Whether the cache has caught up with the store's revision at this process's first question: every record written
   * before then, by anyone, is in it. Controllers ask only while leading, and a process that loses the lease exits, so
   * the first question comes after every earlier leader stopped writing.
   */
  private async cacheHasEarlierWrites(): Promise<boolean> {
    if (this.cacheCurrent) return true;
    this.since ??= this.client.revision().catch((error: unknown) => {
      this.since = undefined;
      throw error;
    });
    this.cacheCurrent = this.informer.caughtUpWith(await this.since);
    return this.cacheCurrent;
  }

  inWorkspace(workspace: string): T[] {
    const names = this.byWorkspace.get(workspace);
    if (!names) return [];
    return [...names].flatMap((name) => this.informer.get(name) ?? []);
  }

  /** Creates the record; undefined when one of that name exists already (someone else's claim, or ours in flight). */
  async create(record: T): Promise<T | undefined> {
    try {
      return this.wrote(await this.client.create(record));
    } catch (error) {
      if (isApiStatus(error, 409)) return undefined;
      throw error;
    }
  }

  /** A consistent read, for decisions the cache may be too old for. */
  async read(name: string): Promise<T | undefined> {
    try {
      return await this.client.get(undefined, name);
    } catch (error) {
      if (isApiStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** An update carrying the record's resourceVersion: a record changed meanwhile fails with 409. */
  async update(record: T): Promise<T> {
    return this.wrote(await this.client.update(record));
  }

  /**
   * Deletes the record as long as it still binds the same holder: a version changed meanwhile (its price filled in,
   * say) is read again and deleted if the claim is unchanged; one claimed by someone else meanwhile is kept (409). A
   * record already gone is fine.
   */
  async remove(record: T): Promise<void> {
    let current = record;
    const name = record.metadata?.name ?? "";
    for (let attempt = 0; ; attempt++) {
      const { uid, resourceVersion } = current.metadata ?? {};
      try {
        await this.client.delete(undefined, name, { preconditions: { uid, resourceVersion } });
        return this.forget(name);
      } catch (error) {
        // Gone already: what this process wrote of it must not answer for it either.
        if (isApiStatus(error, 404)) return this.forget(name);
        if (!isApiStatus(error, 409) || attempt >= 3) throw error;
        const fresh = await this.read(name);
        if (!fresh) return this.forget(name);
        if (fresh.metadata?.uid !== uid || fresh.spec.claimRef?.uid !== record.spec.claimRef?.uid) throw error;
        current = fresh;
      }
    }
  }

  private wrote(record: T): T {
    const name = record.metadata?.name ?? "";
    // Deleted first, so that `written` stays in the order of the writes (see expire).
    this.forget(name);
    this.written.set(name, { record, at: this.now() });
    const uid = record.spec.claimRef?.uid;
    if (uid) this.writtenByUid.set(uid, (this.writtenByUid.get(uid) ?? new Set<string>()).add(name));
    this.expire();
    return record;
  }

  private forget(name: string): void {
    const uid = this.written.get(name)?.record.spec.claimRef?.uid;
    this.written.delete(name);
    const names = uid ? this.writtenByUid.get(uid) : undefined;
    names?.delete(name);
    if (uid && names?.size === 0) this.writtenByUid.delete(uid);
  }

  /** Forgets writes older than WRITTEN_MAX_AGE_MS, oldest first (`written` is in the order of the writes). */
  private expire(): void {
    const now = this.now();
    for (const [name, { at }] of this.written) {
      if (now - at <= WRITTEN_MAX_AGE_MS) return;
      this.forget(name);
    }
  }

  /** Of the cache's record and what this process wrote of it, the later version. */
  private newest(cached: T): T {
    const mine = this.written.get(cached.metadata?.name ?? "")?.record;
    return mine && newerVersion(mine, cached) ? mine : cached;
  }

  /** The cache has seen our write (that version, a later one, or the record's deletion): it answers alone again. */
  private caughtUp(type: string, record: T): void {
    const name = record.metadata?.name ?? "";
    const mine = this.written.get(name)?.record;
    if (mine && (type === "delete" || !newerVersion(mine, record))) this.forget(name);
  }

  private index(record: T): void {
    const name = record.metadata?.name ?? "";
    const uid = record.spec.claimRef?.uid;
    if (uid) this.byUid.set(uid, name);
    const workspace = record.spec.workspaceRef.name;
    const names = this.byWorkspace.get(workspace) ?? new Set<string>();
    names.add(name);
    this.byWorkspace.set(workspace, names);
  }

  private unindex(record: T): void {
    const name = record.metadata?.name ?? "";
    const uid = record.spec.claimRef?.uid;
    if (uid && this.byUid.get(uid) === name) this.byUid.delete(uid);
    const names = this.byWorkspace.get(record.spec.workspaceRef.name);
    names?.delete(name);
    if (names?.size === 0) this.byWorkspace.delete(record.spec.workspaceRef.name);
  }
}

/** How long a write of ours is kept for a cache that never shows it (a watch that relisted, say). */
const WRITTEN_MAX_AGE_MS = 60_000;

export function recordName(record: KubernetesObject): string {
  return record.metadata?.name ?? "";
}
