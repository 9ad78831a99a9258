import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { CoreV1Api, type CoreV1Event } from "@kubernetes/client-node";
import { EventRecorder, type EventSubject } from "../../src/runtime/events.js";
import { testCluster, uniqueName } from "../helpers/cluster.js";

const cluster = testCluster();
const core = cluster.kubeConfig.makeApiClient(CoreV1Api);

function phoneNumber(namespace = "default"): EventSubject {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "PhoneNumber",
    metadata: { name: uniqueName("pn"), namespace, uid: randomUUID(), resourceVersion: "42" },
  };
}

function recorder(
  options: { now?: () => number; lines?: Record<string, unknown>[]; onDrop?: (why: string) => void } = {},
): EventRecorder {
  const lines = options.lines ?? [];
  const logger = pino(
    { level: "debug" },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return new EventRecorder({
    kubeConfig: cluster.kubeConfig,
    component: "bird-operator",
    host: "test-host",
    logger,
    now: options.now,
    onDrop: options.onDrop,
  });
}

async function eventsFor(
  object: EventSubject,
  namespace = object.metadata.namespace ?? "default",
): Promise<CoreV1Event[]> {
  const list = await core.listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.uid=${object.metadata.uid}`,
  });
  return list.items;
}

describe("EventRecorder", () => {
  it("creates an Event that names the object, the reason and the reporter", async () => {
    const events = recorder();
    const pn = phoneNumber();
    events.record(pn, "Warning", "CannotPurchase", "No stock matches the spec");
    await events.flush();

    const [event, ...others] = await eventsFor(pn);
    expect(others).toHaveLength(0);
    expect(event?.metadata.name).toMatch(new RegExp(`^${pn.metadata.name}\\.[0-9a-f]+$`));
    expect(event).toMatchObject({
      involvedObject: {
        apiVersion: "numbers.birdoperator.dev/v1alpha1",
        kind: "PhoneNumber",
        name: pn.metadata.name,
        namespace: "default",
        uid: pn.metadata.uid,
        resourceVersion: "42",
      },
      type: "Warning",
      reason: "CannotPurchase",
      message: "No stock matches the spec",
      count: 1,
      source: { component: "bird-operator", host: "test-host" },
      reportingComponent: "bird-operator",
      reportingInstance: "test-host",
    });
    expect(event?.firstTimestamp).toBeInstanceOf(Date);
    expect(event?.lastTimestamp?.getTime()).toBe(event?.firstTimestamp?.getTime());

    const { stdout } = await cluster.kubectl([
      "get",
      "events",
      "-n",
      "default",
      "--field-selector",
      `involvedObject.name=${pn.metadata.name}`,
      "-o",
      "name",
    ]);
    expect(stdout.trim()).toBe(`event/${event?.metadata.name}`);
  });

  it("counts repeats of one event on a single Event object", async () => {
    const events = recorder();
    const pn = phoneNumber();
    for (let i = 0; i < 10; i++) events.record(pn, "Normal", "Purchased", "Bought +31201234567");
    await events.flush();
    let stored = await eventsFor(pn);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.count).toBe(10);

    for (let i = 0; i < 5; i++) {
      events.record(pn, "Normal", "Purchased", "Bought +31201234567");
      await events.flush();
    }
    stored = await eventsFor(pn);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.count).toBe(15);
  });

  it("keeps events with a different message, reason or type apart", async () => {
    const events = recorder();
    const pn = phoneNumber();
    events.record(pn, "Normal", "DestinationsActivated", "Activated sms NL");
    events.record(pn, "Normal", "DestinationsActivated", "Activated sms BE");
    events.record(pn, "Normal", "Purchased", "Activated sms NL");
    events.record(pn, "Warning", "DestinationsActivated", "Activated sms NL");
    events.record(pn, "Normal", "DestinationsActivated", "Activated sms NL");
    await events.flush();
    const stored = await eventsFor(pn);
    expect(stored.map((e) => [e.type, e.reason, e.message, e.count]).sort()).toEqual(
      [
        ["Normal", "DestinationsActivated", "Activated sms BE", 1],
        ["Normal", "DestinationsActivated", "Activated sms NL", 2],
        ["Normal", "Purchased", "Activated sms NL", 1],
        ["Warning", "DestinationsActivated", "Activated sms NL", 1],
      ].sort(),
    );
  });

  it("starts a new Event after the aggregation window, or when the old one is gone", async () => {
    let now = Date.now();
    const events = recorder({ now: () => now });
    const pn = phoneNumber();
    events.record(pn, "Warning", "ReconcileError", "Bird answered 503");
    await events.flush();
    now += 11 * 60_000;
    events.record(pn, "Warning", "ReconcileError", "Bird answered 503");
    await events.flush();
    expect((await eventsFor(pn)).map((e) => e.count)).toEqual([1, 1]);

    const other = phoneNumber();
    events.record(other, "Warning", "ReconcileError", "Bird answered 503");
    await events.flush();
    const [expired] = await eventsFor(other);
    await core.deleteNamespacedEvent({ name: expired?.metadata.name ?? "", namespace: "default" });
    events.record(other, "Warning", "ReconcileError", "Bird answered 503");
    await events.flush();
    const recreated = await eventsFor(other);
    expect(recreated).toHaveLength(1);
    expect(recreated[0]?.metadata.name).not.toBe(expired?.metadata.name);
    expect(recreated[0]?.count).toBe(2);
  });

  it("reports cluster-scoped objects in the default namespace", async () => {
    const events = recorder();
    const workspace: EventSubject = {
      apiVersion: "numbers.birdoperator.dev/v1alpha1",
      kind: "BirdWorkspace",
      metadata: { name: uniqueName("ws"), uid: randomUUID(), resourceVersion: "7" },
    };
    events.record(workspace, "Normal", "WorkspaceReady", "Credentials work");
    await events.flush();
    const [event] = await eventsFor(workspace, "default");
    expect(event?.involvedObject).toMatchObject({ kind: "BirdWorkspace", name: workspace.metadata.name });
    expect(event?.involvedObject.namespace).toBeUndefined();
  });

  it("caps a flood from one object at the spam filter's burst, then refills slowly", async () => {
    let now = Date.now();
    const drops: string[] = [];
    const events = recorder({ now: () => now, onDrop: (why) => drops.push(why) });
    const pn = phoneNumber();
    for (let i = 0; i < 100; i++) events.record(pn, "Warning", "ReconcileError", `attempt ${i} failed`);
    await events.flush();
    expect(await eventsFor(pn)).toHaveLength(25);
    expect(events.dropped()).toBe(75);
    // What the operator counts in bird_operator_events_dropped_total{why}.
    expect(drops).toEqual(Array(75).fill("spam-filter"));

    // Another object has its own bucket.
    const neighbour = phoneNumber();
    events.record(neighbour, "Normal", "Purchased", "Bought one");
    now += 5 * 60_000;
    events.record(pn, "Warning", "ReconcileError", "after five minutes");
    events.record(pn, "Warning", "ReconcileError", "still too soon");
    await events.flush();
    expect(await eventsFor(neighbour)).toHaveLength(1);
    expect(await eventsFor(pn)).toHaveLength(26);
    expect(events.dropped()).toBe(76);
  });

  it("keeps a bucket per reason: a flood of one reason (refused claims) silences no other", async () => {
    const events = recorder();
    const record: EventSubject = {
      apiVersion: "numbers.birdoperator.dev/v1alpha1",
      kind: "BirdNumber",
      metadata: { name: uniqueName("ws.3161"), uid: randomUUID(), resourceVersion: "3" },
    };
    for (let i = 0; i < 60; i++) events.record(record, "Warning", "ClaimRefused", `copy-${i} in team-b refused`);
    events.record(record, "Normal", "SubscriptionCancelled", "Cancelled the main subscription");
    await events.flush();
    const written = await eventsFor(record, "default");
    expect(written.filter((e) => e.reason === "ClaimRefused")).toHaveLength(25);
    expect(written.filter((e) => e.reason === "SubscriptionCancelled")).toHaveLength(1);
  });

  it("never throws, and logs, when the API server rejects the event", async () => {
    const lines: Record<string, unknown>[] = [];
    const events = recorder({ lines });
    const lost = phoneNumber(uniqueName("no-such-namespace"));
    expect(() => events.record(lost, "Warning", "CannotPurchase", "nobody will read this")).not.toThrow();
    expect(() =>
      events.record({ apiVersion: "v1", kind: "Broken", metadata: {} }, "Normal", "Odd", "no name"),
    ).not.toThrow();
    await events.flush();
    const warnings = lines.filter((l) => l.level === 40).map((l) => l.msg);
    expect(warnings.sort()).toEqual(["Could not record an event", "Could not write an event"]);
  });

  it("truncates long messages to 1024 bytes without splitting a character", async () => {
    const events = recorder();
    const pn = phoneNumber();
    events.record(pn, "Warning", "ReconcileError", "€".repeat(2000));
    await events.flush();
    const [event] = await eventsFor(pn);
    expect(Buffer.byteLength(event?.message ?? "")).toBeLessThanOrEqual(1024);
    expect(event?.message).toBe("€".repeat(341));
  });
});
