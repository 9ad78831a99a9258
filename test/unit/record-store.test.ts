import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";
import { describe, expect, it } from "vitest";
import type { BirdNumber, RecordPhase } from "../../src/api/v1alpha1/index.js";
import { boundTo, Phase, RecordStore } from "../../src/ownership/records.js";
import type { Informer, InformerHandler } from "../../src/runtime/informer.js";
import type { ResourceClient } from "../../src/runtime/resource-client.js";

/**
 * A record cache that sees writes only when told to (`deliver`): the lag between the API server answering a write and
 * the watch bringing it, which the store must cover for its own writes.
 */
class LaggingCluster {
  readonly stored = new Map<string, BirdNumber>();
  readonly cache = new Map<string, BirdNumber>();
  readonly lists: string[] = [];
  /** How often the store asked for the current revision. */
  revisions = 0;
  private readonly handlers: InformerHandler<BirdNumber>[] = [];
  private version = 100;
  /** The latest revision the cache has shown. */
  private delivered = 0;

  readonly informer = {
    on: (handler: InformerHandler<BirdNumber>) => this.handlers.push(handler),
    get: (name: string) => this.cache.get(name),
    caughtUpWith: (revision: string) => this.delivered >= Number(revision),
  } as unknown as Informer<BirdNumber>;

  readonly client = {
    create: (record: BirdNumber) => Promise.resolve(this.write(record, `uid-${record.metadata?.name}`)),
    update: (record: BirdNumber) => Promise.resolve(this.write(record, record.metadata?.uid ?? "")),
    delete: (_namespace: undefined, name: string) => {
      if (!this.stored.delete(name)) return Promise.reject(new ApiException(404, "NotFound", "{}", {}));
      return Promise.resolve({});
    },
    revision: () => Promise.resolve(String((this.revisions++, this.version))),
    list: (options: { labelSelector?: string }) => {
      this.lists.push(options.labelSelector ?? "");
      return Promise.resolve([...this.stored.values()]);
    },
  } as unknown as ResourceClient<BirdNumber>;

  /** The watch catches up: the cache shows what the API server has. */
  deliver(): void {
    this.delivered = this.version;
    for (const [name, record] of this.stored) {
      const old = this.cache.get(name);
      this.cache.set(name, record);
      for (const handler of this.handlers) handler(old ? "update" : "add", record, old, name);
    }
  }

  private write(record: BirdNumber, uid: string): BirdNumber {
    const written = structuredClone({
      ...record,
      metadata: { ...record.metadata, uid, resourceVersion: String(++this.version) },
    });
    this.stored.set(record.metadata?.name ?? "", written);
    return written;
  }
}

const pn = (uid: string): { metadata: { namespace: string; name: string; uid: string } } => ({
  metadata: { namespace: "team-a", name: `pn-${uid}`, uid },
});

const record = (name: string, phase: RecordPhase): BirdNumber => ({
  apiVersion: "numbers.birdoperator.dev/v1alpha1",
  kind: "BirdNumber",
  metadata: { name },
  spec: { workspaceRef: { name: "ws" }, numberString: "+12125550100" },
  status: { phase },
});

describe("RecordStore: its own writes before the cache shows them", () => {
  it("finds the record this process just created though the cache lags, without asking the API server", async () => {
    const cluster = new LaggingCluster();
    const store = new RecordStore(cluster.client, cluster.informer);
    // The cache has every earlier write (see the last test).
    cluster.deliver();
    expect(await store.findHeld(pn("z"), { askServer: false })).toBeUndefined();
    const created = await store.create(boundTo(record("ws.12125550100", Phase.Purchasing), pn("a")));
    expect(cluster.cache.size).toBe(0);
    expect(store.heldBy(pn("a"))?.metadata?.resourceVersion).toBe(created?.metadata?.resourceVersion);
    expect(await store.findHeld(pn("a"), { askServer: false })).toEqual(created);
    expect(await store.findHeld(pn("b"), { askServer: false })).toBeUndefined();
    expect(cluster.lists).toEqual([]);
  });

  it("forgets its own write of a record that is gone when it deletes it, found deleted already or not", async () => {
    for (const goneBefore of [false, true]) {
      const cluster = new LaggingCluster();
      const store = new RecordStore(cluster.client, cluster.informer);
      const created = await store.create(boundTo(record("ws.12125550100", Phase.Purchasing), pn("a")));
      // Deleted by someone else before this process's delete (the API server answers 404), or by this delete.
      if (goneBefore) cluster.stored.clear();
      await store.remove(created!);
      expect(store.heldBy(pn("a"))).toBeUndefined();
    }
  });

  it("answers with the later of the cache's version and its own update (a bind the cache has not seen)", async () => {
    const cluster = new LaggingCluster();
    const store = new RecordStore(cluster.client, cluster.informer);
    const created = await store.create(boundTo(record("ws.12125550100", Phase.Purchasing), pn("a")));
    cluster.deliver();
    const bound = await store.update({ ...created!, status: { ...created!.status, phase: Phase.Bound } });
    expect(cluster.cache.get("ws.12125550100")?.status?.phase).toBe(Phase.Purchasing);
    expect(store.heldBy(pn("a"))?.status?.phase).toBe(Phase.Bound);
    cluster.deliver();
    expect(store.heldBy(pn("a"))).toBe(cluster.cache.get("ws.12125550100"));
    expect(store.heldBy(pn("a"))?.metadata?.resourceVersion).toBe(bound.metadata?.resourceVersion);
  });

  it("does not answer for an object its own later write moved the record away from", async () => {
    const cluster = new LaggingCluster();
    const store = new RecordStore(cluster.client, cluster.informer);
    const created = await store.create(boundTo(record("ws.12125550100", Phase.Bound), pn("a")));
    cluster.deliver();
    await store.update(boundTo(created!, pn("b")));
    expect(store.heldBy(pn("a"))).toBeUndefined();
    expect(store.heldBy(pn("b"))?.spec.claimRef?.uid).toBe("b");
  });

  it("does not answer for an object its own later write moved the record away from, both writes unseen", async () => {
    const cluster = new LaggingCluster();
    const store = new RecordStore(cluster.client, cluster.informer);
    const created = await store.create(boundTo(record("ws.12125550100", Phase.Bound), pn("a")));
    await store.update(boundTo(created!, pn("b")));
    expect(cluster.cache.size).toBe(0);
    expect(store.heldBy(pn("a"))).toBeUndefined();
    expect(store.heldBy(pn("b"))?.spec.claimRef?.uid).toBe("b");
  });

  it("forgets its own writes the cache never showed after a minute", async () => {
    const cluster = new LaggingCluster();
    let now = 1_000_000;
    const store = new RecordStore(cluster.client, cluster.informer, () => now);
    await store.create(boundTo(record("ws.12125550100", Phase.Purchasing), pn("a")));
    now += 30_000;
    await store.create(boundTo(record("ws.12125550101", Phase.Purchasing), pn("b")));
    now += 30_000;
    expect(store.heldBy(pn("a"))?.metadata?.name).toBe("ws.12125550100");
    now += 1;
    expect(store.heldBy(pn("a"))).toBeUndefined();
    expect(store.heldBy(pn("b"))?.metadata?.name).toBe("ws.12125550101");
    now += 30_000;
    expect(store.heldBy(pn("b"))).toBeUndefined();
  });

  it("looks up an object among its own writes by uid, without reading the writes for other objects", async () => {
    const cluster = new LaggingCluster();
    let specReads = 0;
    const create = cluster.client.create.bind(cluster.client);
    // Every record this store writes counts the reads of its spec (what telling its holder needs).
    cluster.client.create = async (r: BirdNumber) => {
      const written = await create(r);
      const { spec } = written;
      return Object.defineProperty(written, "spec", { get: () => (specReads++, spec) });
    };
    const store = new RecordStore(cluster.client, cluster.informer);
    for (let i = 0; i < 1000; i++)
      await store.create(boundTo(record(`ws.1212555${String(i).padStart(4, "0")}`, Phase.Purchasing), pn(`u${i}`)));
    specReads = 0;
    expect(store.heldBy(pn("u500"))?.metadata?.name).toBe("ws.12125550500");
    expect(store.heldBy(pn("new"))).toBeUndefined();
    expect(specReads).toBeLessThan(10);
  });

  it("asks the API server when neither the cache nor its writes know a record", async () => {
    const cluster = new LaggingCluster();
    const other = new RecordStore(cluster.client, cluster.informer);
    await other.create(boundTo(record("ws.12125550100", Phase.Bound), pn("a")));
    const store = new RecordStore(cluster.client, cluster.informer);
    expect((await store.findHeld(pn("a")))?.spec.claimRef?.uid).toBe("a");
    expect(cluster.lists).toHaveLength(1);
  });

  it(
    "asks the API server even for an object told not to until the cache shows every earlier write " +
      "(the previous leader's claim for an object whose tenant removed the finalizer)",
    async () => {
      const cluster = new LaggingCluster();
      const previousLeader = new RecordStore(cluster.client, cluster.informer);
      await previousLeader.create(boundTo(record("ws.12125550100", Phase.Purchasing), pn("a")));
      const store = new RecordStore(cluster.client, cluster.informer);
      // The claim is not in the cache yet, and the object carries no finalizer nor status any more.
      expect((await store.findHeld(pn("a"), { askServer: false }))?.spec.claimRef?.uid).toBe("a");
      expect(await store.findHeld(pn("b"), { askServer: false })).toBeUndefined();
      expect(cluster.lists).toHaveLength(2);
      // The cache shows the revision of the first question: an object the cache knows nothing of holds nothing.
      cluster.deliver();
      expect(await store.findHeld(pn("c"), { askServer: false })).toBeUndefined();
      expect(await store.findHeld(pn("d"), { askServer: false })).toBeUndefined();
      expect(cluster.lists).toHaveLength(2);
      // The revision is asked for once, not per question; writes after it change nothing.
      await previousLeader.create(boundTo(record("ws.12125550101", Phase.Purchasing), pn("e")));
      expect(await store.findHeld(pn("f"), { askServer: false })).toBeUndefined();
      expect(cluster.revisions).toBe(1);
    },
  );
});
