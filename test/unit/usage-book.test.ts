import { describe, expect, it } from "vitest";
import type { BirdNumber, BirdWorkspace } from "../../src/api/v1alpha1/index.js";
import type { UsageInventory } from "../../src/ownership/usage.js";
import { handBook } from "../helpers/usage-book.js";

function record(n: number, amount: number): BirdNumber {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "BirdNumber",
    metadata: { name: `ws.${n}` },
    spec: {
      workspaceRef: { name: "ws" },
      numberString: `+${n}`,
      claimRef: { namespace: "a", name: `p${n}`, uid: `u${n}` },
    },
    status: { phase: "Bound", monthlyPrice: { currencyCode: "EUR", amount, exponent: 0 } },
  };
}

describe("UsageBook", () => {
  it("counts again only after a record, a claim in flight or the inventory changed", () => {
    const { records: numbers, book, walks } = handBook();
    const inventory: UsageInventory & { version: number } = {
      version: 1,
      cachedByString: () => undefined,
      activeNumberStrings: (): string[] => [],
    };
    const source = { workspace: { metadata: { name: "ws" } }, inventory };
    numbers.put(record(1, 2));
    expect(book.of(source)).toEqual({ numbers: 1, prices: [{ currencyCode: "EUR", amount: 2, exponent: 0 }] });
    expect(book.of(source).numbers).toBe(1);
    expect(walks()).toBe(1);

    book.reserve("ws", "ws.2", { currencyCode: "EUR", amount: 3, exponent: 0 });
    expect(book.of(source).numbers).toBe(2);
    numbers.put(record(2, 3));
    expect(book.of(source).numbers).toBe(1 + 1);
    inventory.activeNumberStrings = (): string[] => ["+1", "+2", "+99"];
    inventory.version++;
    expect(book.of(source).numbers).toBe(3);
    expect(walks()).toBe(4);

    // What a caller does with the answer does not change the next one.
    book.of(source).prices.length = 0;
    expect(book.of(source).prices).toHaveLength(2);
  });

  it("keeps nothing for a workspace once it is deleted, its inventory included", () => {
    const { records: numbers, workspaces, book } = handBook();
    const inventory = (): UsageInventory & { version: number; changedSince: () => string[] } => ({
      version: 1,
      cachedByString: () => undefined,
      activeNumberStrings: (): string[] => [],
      changedSince: () => [],
    });
    const limited = { metadata: { name: "limited" }, spec: { policy: { maxNumbers: 5 } } };
    workspaces.put(limited as BirdWorkspace);
    numbers.put(record(1, 2));
    book.of({ workspace: { metadata: { name: "ws" } }, inventory: inventory() });
    book.of({ workspace: limited, inventory: inventory() });
    expect(book.kept().sort()).toEqual(["limited", "ws"]);
    workspaces.drop("ws");
    expect(book.kept()).toEqual(["limited"]);
    workspaces.drop("limited");
    expect(book.kept()).toEqual([]);
    // A reconcile still running asks once more after the delete: it gets an answer, and nothing is kept.
    expect(book.of({ workspace: limited, inventory: inventory() }).numbers).toBe(0);
    expect(book.of({ workspace: { metadata: { name: "ws" } }, inventory: inventory() }).numbers).toBe(1);
    expect(book.kept()).toEqual([]);
  });
});
