import { describe, expect, it } from "vitest";
import type { BirdNumber } from "../../src/api/v1alpha1/index.js";
import { PurchaseGrace } from "../../src/ownership/purchase-grace.js";

const GRACE = 5 * 60_000;
const T0 = Date.parse("2026-12-01T10:00:00Z");

function purchasing(name: string, startedAt: number): BirdNumber {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "BirdNumber",
    metadata: { name },
    spec: { workspaceRef: { name: "ws" }, numberString: "+12125550100" },
    status: { phase: "Purchasing", purchase: { startedAt: new Date(startedAt).toISOString() } },
  } as BirdNumber;
}

/** A grace whose clock the test moves; this process has led since `ledAt`. */
function graceLedAt(ledAt: number): { grace: PurchaseGrace; at: (ms: number) => void } {
  let clock = ledAt;
  const grace = new PurchaseGrace(GRACE, () => new Date(clock));
  return { grace, at: (ms) => (clock = ms) };
}

describe("PurchaseGrace: when an unresolved purchase counts as never having reached Bird", () => {
  it("runs from the claim when nothing later is known", () => {
    const { grace, at } = graceLedAt(T0 - 3_600_000);
    const record = purchasing("ws.a", T0);
    at(T0 + GRACE - 1000);
    expect(grace.remainingMs(record)).toBe(1000);
    at(T0 + GRACE);
    expect(grace.remainingMs(record)).toBe(0);
  });

  it("never gives up a buy still in flight, however long it waits in the batcher", () => {
    const { grace, at } = graceLedAt(T0 - 3_600_000);
    const record = purchasing("ws.a", T0);
    const attempt = grace.sending("ws.a");
    at(T0 + 10 * GRACE);
    expect(grace.remainingMs(record)).toBe(Number.POSITIVE_INFINITY);
    attempt.done();
    expect(grace.remainingMs(record)).toBe(GRACE);
  });

  it("runs from the end of this process's last unclear attempt, not from the claim", () => {
    const { grace, at } = graceLedAt(T0 - 3_600_000);
    const record = purchasing("ws.a", T0);
    at(T0 + 7 * 60_000);
    const attempt = grace.sending("ws.a");
    at(T0 + 9 * 60_000);
    attempt.done();
    at(T0 + 10 * 60_000);
    expect(grace.remainingMs(record)).toBe(GRACE - 60_000);
  });

  it("after a failover, runs at least from when this process began to lead", () => {
    const { grace, at } = graceLedAt(T0 - 3_600_000);
    const record = purchasing("ws.a", T0);
    at(T0 + 20 * 60_000);
    grace.leading();
    expect(grace.remainingMs(record)).toBe(GRACE);
    at(T0 + 20 * 60_000 + GRACE);
    expect(grace.remainingMs(record)).toBe(0);
  });

  it("forgetting old attempts never shortens a grace", () => {
    const { grace, at } = graceLedAt(T0);
    const old = purchasing("ws.old", T0);
    at(T0 + 60_000);
    grace.sending("ws.old").done();
    const before = T0 + 60_000 + GRACE;
    for (let i = 0; i < 1500; i++) {
      at(T0 + 120_000 + i * 1000);
      grace.sending(`ws.n${i}`).done();
    }
    at(before + 3_600_000);
    expect(grace.remainingMs(old)).toBeLessThanOrEqual(0);
    const recent = purchasing("ws.n1499", T0);
    expect(grace.remainingMs(recent)).toBe(T0 + 120_000 + 1499 * 1000 + GRACE - (before + 3_600_000));
  });
});
