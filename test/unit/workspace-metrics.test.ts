import { afterEach, describe, expect, it, vi } from "vitest";
import { Reason } from "../../src/api/v1alpha1/conditions.js";
import type { BirdNumber, BirdSender, BirdWorkspace } from "../../src/api/v1alpha1/index.js";
import { PHONE_NUMBER_KIND } from "../../src/api/v1alpha1/index.js";
import { exportWorkspaceUsage } from "../../src/ownership/metrics.js";
import { RecordStore } from "../../src/ownership/records.js";
import { UsageBook } from "../../src/ownership/usage.js";
import type { Informer } from "../../src/runtime/informer.js";
import { Metrics } from "../../src/runtime/metrics.js";
import type { ResourceClient } from "../../src/runtime/resource-client.js";
import { handInformer } from "../helpers/usage-book.js";

const workspace = (name: string): BirdWorkspace => ({ metadata: { name }, spec: {} }) as unknown as BirdWorkspace;

describe("workspace metrics", () => {
  afterEach(() => vi.useRealTimers());

  it("drops a deleted workspace's counters, and only its own", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const metrics = new Metrics();
    const workspaces = handInformer<BirdWorkspace>();
    const numberRecords = new RecordStore({} as ResourceClient<BirdNumber>, handInformer<BirdNumber>());
    const senderRecords = new RecordStore({} as ResourceClient<BirdSender>, handInformer<BirdSender>());
    exportWorkspaceUsage(metrics, {
      workspaces: { ...workspaces, list: () => workspaces.all() } as unknown as Informer<BirdWorkspace>,
      numberRecords,
      senderRecords,
      usage: new UsageBook(numberRecords, senderRecords),
      connections: { connect: () => ({ ok: false, reason: "NoKey", message: "no key" }) },
      isLeader: () => true,
    });
    for (const name of ["kept", "gone"]) {
      workspaces.put(workspace(name));
      metrics.purchases.inc({ workspace: name, kind: PHONE_NUMBER_KIND });
      metrics.purchasesRefused.inc({ workspace: name, kind: PHONE_NUMBER_KIND, reason: Reason.Forbidden });
    }
    const series = async (name: string): Promise<number> =>
      (await metrics.registry.metrics()).split("\n").filter((line) => line.includes(`workspace="${name}"`)).length;
    expect(await series("gone")).toBeGreaterThan(10);
    const kept = await series("kept");
    workspaces.drop("gone");
    // The next scrape (a view is read again after a second): the gauges follow the list, the counters the delete.
    vi.setSystemTime(Date.now() + 2_000);
    expect(await series("gone")).toBe(0);
    expect(await series("kept")).toBe(kept);
  });
});
