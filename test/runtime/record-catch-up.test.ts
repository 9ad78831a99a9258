import { afterAll, describe, expect, it } from "vitest";
import { BIRD_NUMBER_KIND, BIRD_NUMBER_PLURAL, GROUP, VERSION, type BirdNumber } from "../../src/api/v1alpha1/index.js";
import { silentLogger } from "../../src/log.js";
import { boundTo, RecordStore } from "../../src/ownership/records.js";
import { Informer } from "../../src/runtime/informer.js";
import { KubeHttp } from "../../src/runtime/kube-http.js";
import { ResourceClient } from "../../src/runtime/resource-client.js";
import { eventually } from "../support/fixtures.js";
import { testCluster, uniqueName } from "../helpers/cluster.js";

const BIRD_NUMBER = {
  group: GROUP,
  version: VERSION,
  plural: BIRD_NUMBER_PLURAL,
  kind: BIRD_NUMBER_KIND,
  namespaced: false,
};

/**
 * A new leader's record cache may not show yet a claim the previous leader wrote for an object whose tenant removed the
 * finalizer since: RecordStore.findHeld must ask the API server until the cache shows the revision of its first
 * question, whatever the caller says (see records.ts, cacheHasEarlierWrites).
 */
describe("RecordStore against the API server: claims written before this process first asked", () => {
  const cluster = testCluster();
  const http = new KubeHttp(cluster.kubeConfig);
  const workspace = uniqueName("catchup");
  let serial = 0;
  const claimant = (): { metadata: { namespace: string; name: string; uid: string } } => ({
    metadata: { namespace: "team-a", name: `pn-${++serial}`, uid: `${workspace}-uid-${serial}` },
  });
  /** A client counting the lists findHeld asks the API server for. */
  const counting = (): { client: ResourceClient<BirdNumber>; lists: () => number } => {
    const client = new ResourceClient<BirdNumber>(http, BIRD_NUMBER);
    let lists = 0;
    const list = client.list.bind(client);
    client.list = (options) => (lists++, list(options));
    return { client, lists: () => lists };
  };
  const created: string[] = [];
  const claim = (client: ResourceClient<BirdNumber>, holder: ReturnType<typeof claimant>): Promise<BirdNumber> => {
    const numberString = `+1212555${String(1000 + serial).slice(-4)}`;
    created.push(`${workspace}.${numberString.slice(1)}`);
    return client.create(
      boundTo(
        {
          apiVersion: "numbers.birdoperator.dev/v1alpha1",
          kind: "BirdNumber",
          metadata: { name: `${workspace}.${numberString.slice(1)}` },
          spec: { workspaceRef: { name: workspace }, numberString },
        },
        holder,
      ),
    );
  };
  const informers: Informer<BirdNumber>[] = [];
  const informer = async (): Promise<Informer<BirdNumber>> => {
    const started = new Informer<BirdNumber>({
      kubeConfig: cluster.kubeConfig,
      http,
      paths: [new ResourceClient<BirdNumber>(http, BIRD_NUMBER).collectionPath()],
      logger: silentLogger(),
    });
    informers.push(started);
    started.start();
    await started.waitForSync();
    return started;
  };

  afterAll(async () => {
    await Promise.all(informers.map((i) => i.stop()));
    const client = new ResourceClient<BirdNumber>(http, BIRD_NUMBER);
    for (const name of created) await client.delete(undefined, name).catch(() => undefined);
    http.close();
  });

  it("finds the previous leader's claim on the API server while the cache lags, though told not to ask", async () => {
    const lagging = await informer();
    await lagging.stop(); // its watch is gone: nothing written from now on reaches this cache
    const { client, lists } = counting();
    const previousLeader = claimant();
    await claim(client, previousLeader);
    const store = new RecordStore(client, lagging);
    const found = await store.findHeld(previousLeader, { askServer: false });
    expect(found?.spec.claimRef?.uid).toBe(previousLeader.metadata.uid);
    expect(lists()).toBe(1);
  });

  it("trusts a live cache for objects it shows nothing for once it reached the first question's revision", async () => {
    const live = await informer();
    const { client, lists } = counting();
    const store = new RecordStore(client, live);
    // The first question fixes the revision; another write (the next claim's event) takes the watch past it.
    await store.findHeld(claimant(), { askServer: false });
    await claim(client, claimant());
    const asked = lists();
    await eventually("the cache caught up", async () => {
      await store.findHeld(claimant(), { askServer: false });
      return lists() === asked ? true : undefined;
    });
    const before = lists();
    for (let i = 0; i < 5; i++) expect(await store.findHeld(claimant(), { askServer: false })).toBeUndefined();
    expect(lists()).toBe(before);
  });
});
