import type { V1Secret } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BirdWorkspace } from "../../src/api/v1alpha1/index.js";
import {
  rateLimiterFor,
  releaseRateLimiter,
  resetRateLimiters,
  sharedRateLimiterCount,
  type NumberStockItem,
} from "../../src/bird/index.js";
import { WorkspaceConnections, type WorkspaceConnection } from "../../src/workspace/connections.js";
import type { Informer, InformerEventType, InformerHandler } from "../../src/runtime/informer.js";
import { Metrics } from "../../src/runtime/metrics.js";
import {
  DEFAULT_ACCESS_KEY,
  DEFAULT_ORGANIZATION_ID,
  DEFAULT_WORKSPACE_ID,
  startSimulator,
  type RunningSimulator,
} from "../../src/simulator/index.js";
import { capturingLogger } from "../bird/helpers.js";

const NAMESPACE = "bird-operator";

/** An informer cache the test fills by hand, emitting events as the real one does. */
class FakeInformer<T extends { metadata?: { name?: string; namespace?: string } }> {
  private readonly items = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];

  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  put(object: T): void {
    const key = object.metadata?.namespace
      ? `${object.metadata.namespace}/${object.metadata.name}`
      : (object.metadata?.name ?? "");
    const type: InformerEventType = this.items.has(key) ? "update" : "add";
    this.items.set(key, object);
    for (const handler of this.handlers) handler(type, object, undefined, key);
  }

  remove(key: string): void {
    const object = this.items.get(key);
    if (!object) return;
    this.items.delete(key);
    for (const handler of this.handlers) handler("delete", object, undefined, key);
  }

  asInformer(): Informer<T> {
    return this as unknown as Informer<T>;
  }
}

function workspace(name: string, endpoint: string, spec: Partial<BirdWorkspace["spec"]> = {}): BirdWorkspace {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "BirdWorkspace",
    metadata: { name, generation: 1 },
    spec: {
      organizationId: DEFAULT_ORGANIZATION_ID,
      workspaceId: DEFAULT_WORKSPACE_ID,
      endpoint,
      accessKeySecretRef: { namespace: NAMESPACE, name: "bird" },
      ...spec,
    },
  };
}

describe("WorkspaceConnections housekeeping", () => {
  const sims: RunningSimulator[] = [];
  let workspaces: FakeInformer<BirdWorkspace>;
  let connections: WorkspaceConnections;
  let metrics: Metrics;
  let lines: string[];

  beforeEach(() => {
    resetRateLimiters();
    workspaces = new FakeInformer<BirdWorkspace>();
    const secrets = new FakeInformer<V1Secret>();
    secrets.put({ metadata: { name: "bird", namespace: NAMESPACE }, stringData: { accessKey: DEFAULT_ACCESS_KEY } });
    metrics = new Metrics();
    const captured = capturingLogger();
    lines = captured.lines;
    connections = new WorkspaceConnections({
      workspaces: workspaces.asInformer(),
      secrets: secrets.asInformer(),
      operatorNamespace: NAMESPACE,
      logger: captured.logger,
      metrics,
      inventoryMaxAgeMs: 60_000,
    });
  });

  afterEach(async () => {
    await Promise.all(sims.splice(0).map((s) => s.close()));
  });

  async function simulator(latencyOnBuyMs = 0): Promise<RunningSimulator> {
    const sim = await startSimulator({
      validateResponses: true,
      provisioningDelayMs: 60_000,
      faults: latencyOnBuyMs ? { latencyMs: latencyOnBuyMs, routes: ["buyLongCodeNumbers"] } : {},
    });
    sims.push(sim);
    return sim;
  }

  function connect(name: string): WorkspaceConnection {
    const resolved = connections.connect(name);
    if (!resolved.ok) throw new Error(resolved.message);
    return resolved.value;
  }

  async function stockItem(connection: WorkspaceConnection): Promise<NumberStockItem> {
    return (await connection.stockPool.take(
      { countryCodes: ["NL"], types: ["mobile"] },
      () => true,
    )) as NumberStockItem;
  }

  it(
    "keeps the purchases in flight (the batcher) when the endpoint changes, " + "and sends queued ones to the new Bird",
    async () => {
      const [first, second] = [await simulator(400), await simulator()];
      workspaces.put(workspace("ws", first.url));
      const before = connect("ws");
      const [inFlight, queued] = [await stockItem(before), await stockItem(before)];
      const buying = before.buyer.buy(inFlight);
      // On its way to the first Bird (which answers 400 ms later) when the endpoint changes.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const woken: string[] = [];
      before.inventory.awaitProvisioned("n-1", 1000, () => woken.push("n-1"));
      const { client: oldClient, inventory: oldInventory, buyer } = before;
      // Asked for in the same turn as the change: it leaves after it, through the new client.
      const buyingQueued = before.buyer.buy(queued);

      workspaces.put(workspace("ws", second.url));
      const after = connect("ws");
      expect(after).toBe(before);
      expect(after.buyer).toBe(buyer);
      expect(after.client).not.toBe(oldClient);
      expect(after.inventory).not.toBe(oldInventory);
      // The old inventory hands its waiters back (their owners look again through the new connection).
      expect(woken).toEqual(["n-1"]);

      expect((await buying)?.numberString).toBe(inFlight.numberString);
      expect((await buyingQueued)?.numberString).toBe(queued.numberString);
      // Both simulators grow the same stock from the same seed, so the queued item is on sale at the second one too.
      expect(first.sim.purchases().map((p) => p.stockItemId)).toEqual([inFlight.id]);
      expect(second.sim.purchases().map((p) => p.stockItemId)).toEqual([queued.id]);
    },
  );

  it("applies new rate limits to the client in place, without a new client or inventory", async () => {
    const sim = await simulator();
    workspaces.put(workspace("ws", sim.url));
    const before = connect("ws");
    const { client, inventory } = before;
    workspaces.put(workspace("ws", sim.url, { rateLimits: { getPerSecond: 7, postPerSecond: 9 } }));
    const after = connect("ws");
    expect([after.client, after.inventory]).toEqual([client, inventory]);
    const shared = rateLimiterFor(sim.url, DEFAULT_WORKSPACE_ID, { getPerSecond: 7, postPerSecond: 9 });
    expect([shared.get.ratePerSecond, shared.post.ratePerSecond]).toEqual([7, 9]);
    releaseRateLimiter(sim.url, DEFAULT_WORKSPACE_ID);
  });

  it("forgets a deleted workspace: its rate limiter, polls and waits go, and a new one starts afresh", async () => {
    const sim = await simulator();
    workspaces.put(workspace("ws", sim.url));
    const before = connect("ws");
    expect(sharedRateLimiterCount()).toBe(1);
    const woken: string[] = [];
    before.inventory.awaitProvisioned("n-1", 1000, () => woken.push("n-1"));
    before.stockPool.waitFor(
      { countryCodes: ["NL"] },
      "ns/a",
      () => true,
      () => woken.push("stock"),
    );

    workspaces.remove("ws");
    expect(sharedRateLimiterCount()).toBe(0);
    expect(woken).toEqual(["n-1"]);
    expect(before.stockPool.waiting()).toEqual({ filters: 0, waiters: 0 });
    expect(connections.connect("ws")).toMatchObject({ ok: false, reason: "WorkspaceNotFound" });

    workspaces.put(workspace("ws", sim.url));
    expect(connect("ws")).not.toBe(before);
  });

  it("warns and counts a background refresh that failed, instead of swallowing it", async () => {
    const sim = await simulator();
    workspaces.put(workspace("ws", sim.url));
    const connection = connect("ws");
    await connection.inventory.countNumbers();
    const [number] = await connection.client.buyNumbers([(await stockItem(connection)).id]);
    // Enough numbers provisioning that a poll refreshes the whole list in the background, which nobody awaits.
    for (let i = 0; i < 300; i++)
      connection.inventory.putNumber({
        ...(number as NonNullable<typeof number>),
        id: `n-${i}`,
        numberString: `+3161234${String(i).padStart(4, "0")}`,
      });
    // Bird goes away: that refresh fails (connection refused, after the client's retries).
    await sim.close();
    sims.splice(sims.indexOf(sim), 1);
    await connection.inventory.pollNumber("n-0", 0);
    const deadline = Date.now() + 30_000;
    while (!lines.some((l) => l.includes("Background Bird call failed")) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const warning = JSON.parse(lines.find((l) => l.includes("Background Bird call failed")) ?? "{}") as Record<
      string,
      unknown
    >;
    expect(warning).toMatchObject({ level: 40, workspace: "ws", task: "inventory-refresh" });
    const counted =
      (await metrics.registry.getSingleMetric("bird_operator_background_errors_total")?.get())?.values ?? [];
    expect(counted).toEqual([expect.objectContaining({ labels: { task: "inventory-refresh" }, value: 1 })]);
  });
});
