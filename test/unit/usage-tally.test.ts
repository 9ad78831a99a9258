import { describe, expect, it } from "vitest";
import type { BirdNumber, Money, RecordPhase } from "../../src/api/v1alpha1/index.js";
import type { BirdApi } from "../../src/bird/client.js";
import type { LongCodeNumber } from "../../src/bird/types.js";
import { sumMoney } from "../../src/controllers/guardrails.js";
import { Ledger, workspaceUsage, type Usage } from "../../src/ownership/usage.js";
import { Inventory } from "../../src/workspace/inventory.js";
import { handBook } from "../helpers/usage-book.js";

/** A small deterministic generator, so a failure replays. */
function random(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
}

const PHASES: RecordPhase[] = ["Purchasing", "Bound", "Released", "Lost", "Available", "Reserved"];
const PRICES: (Money | undefined)[] = [
  undefined,
  { currencyCode: "EUR", amount: 1150000, exponent: -6 },
  { currencyCode: "EUR", amount: 2, exponent: 0 },
  { currencyCode: "USD", amount: 300, exponent: -2 },
];

function numberOf(i: number, ended: boolean): LongCodeNumber {
  const id = `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
  return {
    id,
    endpointId: id,
    numberString: `+3120${1000000 + i}`,
    countryCode: "NL",
    type: "local",
    createdAt: "2026-11-22T10:00:00Z",
    updatedAt: "2026-11-22T10:00:00Z",
    deprovisionAt: ended ? "2026-12-22T10:00:00Z" : undefined,
    endpoint: { id, provisioningStatus: "provisioned", issues: [] },
  } as unknown as LongCodeNumber;
}

function recordOf(
  workspace: string,
  i: number,
  phase: RecordPhase,
  price: Money | undefined,
  name?: string,
): BirdNumber {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "BirdNumber",
    metadata: { name: name ?? `${workspace}.${i}` },
    spec: { workspaceRef: { name: workspace }, numberString: `+3120${1000000 + i}` },
    status: { phase, monthlyPrice: price },
  };
}

/** The figures a limit is checked against: the count, and the sum per currency. */
function figures(usage: Usage): { numbers: number; sums: Record<string, string> } {
  const sums: Record<string, string> = {};
  for (const currency of new Set(usage.prices.map((p) => p.currencyCode))) {
    const { total } = sumMoney(usage.prices, currency);
    sums[currency] = `${BigInt(total.amount) * 10n ** BigInt(total.exponent + 6)}`;
  }
  return { numbers: usage.numbers, sums };
}

describe("UsageBook for a workspace with limits (kept up to date, not counted again)", () => {
  it("answers what counting from scratch answers, after any sequence of record, number and claim changes", async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const next = random(seed);
      const { records, book } = handBook();
      // What Bird has: a list the test replaces, and numbers put or forgotten one at a time between lists.
      let listed: LongCodeNumber[] = [];
      const bird = {
        async *numbers() {
          yield* listed;
        },
      } as unknown as BirdApi;
      const inventory = new Inventory(bird, 0);
      const limits = { maxMonthlySpend: { currencyCode: "EUR", amount: 1000, exponent: 0 }, maxNumbers: 1000 };
      const source = { workspace: { metadata: { name: "ws" }, spec: { policy: limits } }, inventory };
      const ledgerOf = (): Ledger | undefined =>
        (book as unknown as { ledgers: Map<string, Ledger> }).ledgers.get("ws");
      let incremental = 0;
      for (let step = 0; step < 600; step++) {
        const i = next(40);
        const action = next(10);
        // Now and then a record of another workspace, or one of ours moved to another (its name kept).
        const workspace = next(5) === 0 ? "other" : "ws";
        // Two records may name the same number (a second one the platform team made by hand).
        const name = `ws.${i}${next(4) === 0 ? "-b" : ""}`;
        if (action < 3) records.put(recordOf(workspace, i, PHASES[next(6)]!, PRICES[next(4)], name));
        else if (action < 4) records.drop(name);
        else if (action < 6) inventory.putNumber(numberOf(i, next(3) === 0));
        else if (action < 7) inventory.forgetNumber(numberOf(i, false).id);
        else if (action < 8 && next(2) === 0) {
          listed = Array.from({ length: next(40) }, (_, k) => numberOf(k, next(4) === 0));
          await inventory.refresh();
        } else if (action < 9) book.reserve("ws", next(2) ? `ws.${i}` : `sender.${i}#DE`, PRICES[next(4)]);
        else book.release("ws", `ws.${i}`);
        const tallied = book.of(source);
        const counted = workspaceUsage({
          numbers: records.all().filter((r) => r.spec.workspaceRef.name === "ws"),
          senders: [],
          ledger: { pending: () => ledgerOf()?.pending() ?? [] },
          inventory,
        });
        expect(figures(tallied), `seed ${seed}, step ${step}`).toEqual(figures(counted));
        incremental++;
      }
      expect(incremental).toBe(600);
    }
  });

  it("follows two records that name the same number through its changes", () => {
    const { records, book } = handBook();
    const inventory = new Inventory({} as BirdApi, 60_000);
    const source = { workspace: { metadata: { name: "ws" }, spec: { policy: { maxNumbers: 10 } } }, inventory };
    records.put(recordOf("ws", 5, "Bound", PRICES[1]));
    records.put(recordOf("ws", 5, "Released", PRICES[1], "ws.5-b"));
    inventory.putNumber(numberOf(5, false));
    expect(book.of(source).numbers).toBe(2);
    // Its subscription ends: neither record's number is billed any more.
    inventory.putNumber(numberOf(5, true));
    expect(book.of(source).numbers).toBe(0);
    // One record goes, the other still names the number: it is not an unknown active number.
    inventory.putNumber(numberOf(5, false));
    records.drop("ws.5-b");
    expect(book.of(source).numbers).toBe(1);
    records.drop("ws.5");
    expect(book.of(source).numbers).toBe(1);
  });

  it("follows a new list of numbers: one that is gone no longer counts", async () => {
    const { records, book } = handBook();
    let listed = [numberOf(1, false), numberOf(2, false), numberOf(3, true)];
    const bird = {
      async *numbers() {
        yield* listed;
      },
    } as unknown as BirdApi;
    const inventory = new Inventory(bird, 0);
    const source = { workspace: { metadata: { name: "ws" }, spec: { policy: { maxNumbers: 10 } } }, inventory };
    records.put(recordOf("ws", 3, "Bound", PRICES[1]));
    await inventory.refresh();
    // +1 and +2 are in the workspace without records; +3's record counts not, its subscription has ended.
    expect(book.of(source).numbers).toBe(2);
    listed = [numberOf(1, false)];
    await inventory.refresh();
    // +2 is gone; +3 is no longer listed, so its Bound record counts again.
    expect(book.of(source).numbers).toBe(2);
    listed = [];
    await inventory.refresh();
    expect(book.of(source).numbers).toBe(1);
  });

  it("does not walk the workspace's records again for a purchase once it has counted them", () => {
    const { records, book, walks } = handBook();
    const inventory = new Inventory({} as BirdApi, 60_000);
    const policy = { maxNumbers: 10_000 };
    const source = { workspace: { metadata: { name: "ws" }, spec: { policy } }, inventory };
    for (let i = 0; i < 1000; i++) records.put(recordOf("ws", i, "Bound", PRICES[1]));
    expect(book.of(source).numbers).toBe(1000);
    // A purchase: reserved, its record created, bought, the number read, the record bound; and again.
    for (let i = 1000; i < 1100; i++) {
      book.reserve("ws", `ws.${i}`, PRICES[1]);
      expect(book.of(source).numbers).toBe(i + 1);
      records.put(recordOf("ws", i, "Purchasing", PRICES[1]));
      inventory.putNumber(numberOf(i, false));
      records.put(recordOf("ws", i, "Bound", PRICES[1]));
    }
    expect(book.of(source).numbers).toBe(1100);
    expect(walks()).toBe(1);
    // Without limits, the workspace is counted as before (and the tally is let go).
    source.workspace.spec.policy = {} as typeof policy;
    expect(book.of(source).numbers).toBe(1100);
    expect(walks()).toBe(2);
  });
});
