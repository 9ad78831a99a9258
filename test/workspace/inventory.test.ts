import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createBirdClient, type BirdApi } from "../../src/bird/client.js";
import { Inventory } from "../../src/workspace/inventory.js";
import { deferred } from "../helpers/deferred.js";
import type { AlphaNumber, LongCodeNumber } from "../../src/bird/types.js";
import {
  DEFAULT_ACCESS_KEY,
  DEFAULT_ORGANIZATION_ID,
  DEFAULT_WORKSPACE_ID,
  startSimulator,
  type RunningSimulator,
} from "../../src/simulator/index.js";

function number(i: number, provisioningStatus = "provisioned"): LongCodeNumber {
  const id = `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
  const capability = (name: string): NonNullable<NonNullable<LongCodeNumber["endpoint"]>["capabilities"]>[number] => ({
    name,
    inbound: { status: "active", issues: [] },
    outbound: {
      status: "active",
      destinationStatuses: { active: 1, inactive: 0 },
      supportsDestinations: true,
      issues: [],
    },
  });
  return {
    id,
    endpointId: id,
    numberString: `+3120${String(1000000 + i)}`,
    countryCode: "NL",
    type: "local",
    capabilities: { sms: { inbound: true, outbound: true } },
    createdAt: "2026-11-22T10:00:00Z",
    updatedAt: "2026-11-22T10:00:00Z",
    order: { status: "completed" },
    endpoint: {
      id,
      type: "long-code-number",
      name: "n",
      instanceId: "x",
      dependencies: [],
      issues: [],
      provisioningStatus,
      capabilities: [capability("sms")],
    },
  };
}

/** A BirdApi whose list of numbers waits until the test lets it finish. */
function fakeBird(
  numbers: () => LongCodeNumber[],
  senders: AlphaNumber[] = [],
): { bird: BirdApi; lists: number; release: () => void; hold: boolean } {
  const state = { lists: 0, hold: false, release: (): void => undefined };
  const bird = {
    async *numbers() {
      state.lists++;
      if (state.hold) await new Promise<void>((resolve) => (state.release = resolve));
      yield* numbers();
    },
    async *alphaNumbers() {
      yield* senders;
    },
    getNumber: async (id: string) => {
      const found = numbers().find((n) => n.id === id);
      if (!found) throw new Error("not found");
      return found;
    },
  } as unknown as BirdApi;
  return Object.assign(state, { bird });
}

describe("Inventory", () => {
  it("keeps what the reconcilers read of a listed number and drops the rest", async () => {
    const fake = fakeBird(() => [number(1)]);
    const inventory = new Inventory(fake.bird, 60_000);
    const kept = await inventory.number(number(1).id);
    expect(kept).toMatchObject({
      id: number(1).id,
      numberString: number(1).numberString,
      countryCode: "NL",
      type: "local",
      capabilities: { sms: { inbound: true, outbound: true } },
    });
    expect(kept?.endpoint).toEqual({
      id: number(1).id,
      type: "long-code-number",
      provisioningStatus: "provisioned",
      issues: [],
      capabilities: [{ name: "sms", outbound: { status: "active", destinationStatuses: { active: 1, inactive: 0 } } }],
    });
    expect(kept).not.toHaveProperty("order");
  });

  it("polls many provisioning numbers with one list that nobody waits for", async () => {
    let status = "provisioning";
    const all = (): LongCodeNumber[] => Array.from({ length: 300 }, (_, i) => number(i, status));
    const fake = fakeBird(all);
    let now = 0;
    const inventory = new Inventory(fake.bird, 60_000, () => now);
    await inventory.countNumbers();
    expect(fake.lists).toBe(1);
    status = "provisioned";
    fake.hold = true;
    now = 2000;
    // The poll starts a list and answers from the cache at once, without waiting for it.
    const first = await inventory.pollNumber(number(7).id, 1000);
    expect(first.endpoint?.provisioningStatus).toBe("provisioning");
    expect(fake.lists).toBe(2);
    // Polls meanwhile share that list instead of starting more.
    await inventory.pollNumber(number(8).id, 1000);
    expect(fake.lists).toBe(2);
    fake.release();
    await new Promise((r) => setTimeout(r, 10));
    expect((await inventory.pollNumber(number(7).id, 1000)).endpoint?.provisioningStatus).toBe("provisioned");
  });

  it("wakes whoever waits for a number once a poll sees it provisioned, with one list for many", async () => {
    vi.useFakeTimers();
    try {
      let status = "provisioning";
      const fake = fakeBird(() => Array.from({ length: 300 }, (_, i) => number(i, status)));
      const inventory = new Inventory(fake.bird, 60_000, () => Date.now());
      await inventory.countNumbers();
      const woken: string[] = [];
      for (const i of [1, 2, 3, 4, 5]) inventory.awaitProvisioned(number(i).id, 1000, () => woken.push(`n${i}`));
      await vi.advanceTimersByTimeAsync(1000);
      expect(woken).toEqual([]);
      status = "provisioned";
      await vi.advanceTimersByTimeAsync(1000);
      expect(woken.sort()).toEqual(["n1", "n2", "n3", "n4", "n5"]);
      const lists = fake.lists;
      // Nobody waits any more: the poller stops.
      await vi.advanceTimersByTimeAsync(5000);
      expect(fake.lists).toBe(lists);
    } finally {
      vi.useRealTimers();
    }
  });

  it("hands a number that provisions for too long back to its owner, and stops polling for it", async () => {
    vi.useFakeTimers();
    try {
      const fake = fakeBird(() => [number(1, "provisioning")]);
      const inventory = new Inventory(fake.bird, 60_000, () => Date.now(), { maxWaitMs: 5000 });
      await inventory.countNumbers();
      const woken: string[] = [];
      inventory.awaitProvisioned(number(1).id, 1000, () => woken.push("n1"));
      await vi.advanceTimersByTimeAsync(4000);
      expect(woken).toEqual([]);
      await vi.advanceTimersByTimeAsync(3000);
      expect(woken).toEqual(["n1"]);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("reports a failed poll instead of swallowing it, and polls again", async () => {
    vi.useFakeTimers();
    try {
      let fail = true;
      const fake = fakeBird(() => [number(1, fail ? "provisioning" : "provisioned")]);
      const errors: string[] = [];
      const bird = {
        ...fake.bird,
        async *numbers(): AsyncGenerator<LongCodeNumber> {
          if (fail) throw new Error("Bird is down");
          yield* fake.bird.numbers();
        },
      } as BirdApi;
      const inventory = new Inventory(bird, 60_000, () => Date.now(), {
        onError: (task, error) => errors.push(`${task}: ${(error as Error).message}`),
      });
      const woken: string[] = [];
      inventory.awaitProvisioned(number(1).id, 1000, () => woken.push("n1"));
      await vi.advanceTimersByTimeAsync(300);
      expect(errors).toEqual(["provisioning-poll: Bird is down"]);
      fail = false;
      await vi.advanceTimersByTimeAsync(1000);
      expect(woken).toEqual(["n1"]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("on close, stops polling and hands every wait back to its owner", async () => {
    vi.useFakeTimers();
    try {
      const fake = fakeBird(() => [number(1, "provisioning")]);
      const inventory = new Inventory(fake.bird, 60_000, () => Date.now());
      const woken: string[] = [];
      inventory.awaitProvisioned(number(1).id, 1000, () => woken.push("n1"));
      inventory.close();
      expect(woken).toEqual(["n1"]);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("forgets the write marks of numbers that are gone", async () => {
    let listed = [number(1), number(2)];
    let now = 0;
    const inventory = new Inventory(fakeBird(() => listed).bird, 1000, () => now);
    await inventory.countNumbers();
    inventory.markChanged(number(1).id);
    inventory.markChanged(number(2).id);
    inventory.forgetNumber(number(1).id);
    expect(inventory.isCurrent(number(1).id)).toBe(true);
    listed = [number(1)];
    now = 5000;
    await inventory.countNumbers();
    expect(inventory.isCurrent(number(2).id)).toBe(true);
  });

  it("judges a sender's counts stale after our write until a list started later", async () => {
    const sender = {
      id: "s1",
      endpointId: "s1",
      alphaString: "ACME",
      createdAt: "2026-11-22T10:00:00Z",
      updatedAt: "2026-11-22T10:00:00Z",
    } as AlphaNumber;
    const fake = fakeBird(() => [], [sender]);
    let now = 0;
    const inventory = new Inventory(fake.bird, 1000, () => now);
    await inventory.senders();
    inventory.markSenderChanged("s1");
    expect(inventory.isSenderCurrent("s1")).toBe(false);
    now = 5000;
    await inventory.senders();
    expect(inventory.isSenderCurrent("s1")).toBe(true);
  });
});

/** A BirdApi whose number list yields page by page (the test turns each page) and whose reads are counted. */
function pagedBird(pages: LongCodeNumber[][]): { bird: BirdApi; next: () => Promise<void>; reads: string[] } {
  const gates = pages.map(() => deferred());
  let turned = 0;
  const reads: string[] = [];
  const bird = {
    async *numbers() {
      for (const [i, page] of pages.entries()) {
        await gates[i]?.promise;
        yield* page;
      }
    },
    getNumber: async (id: string) => {
      reads.push(id);
      throw new Error(`no read expected (${id})`);
    },
  } as unknown as BirdApi;
  // Lets the list go one page further, then lets the generator's consumer run.
  const next = async (): Promise<void> => {
    gates[turned++]?.resolve();
    await new Promise((resolve) => setTimeout(resolve, 5));
  };
  return { bird, next, reads };
}

describe("Inventory while a full list is in flight", () => {
  it("serves a number its pages already showed, and makes others wait for their page or the end", async () => {
    const fake = pagedBird([[number(1), number(2)], [number(3)], []]);
    const inventory = new Inventory(fake.bird, 60_000);
    const listed = inventory.refresh();
    expect(inventory.whenListed(number(1).id)).toBeInstanceOf(Promise);
    const three = inventory.number(number(3).id);
    let threeAnswered = false;
    void three.then(() => (threeAnswered = true));
    const waitForThree = inventory.whenListed(number(3).id);
    let threeListed = false;
    void waitForThree?.then(() => (threeListed = true));
    const missing = inventory.whenListed("not-in-any-page");
    let missingSettled = false;
    void missing?.then(() => (missingSettled = true));

    await fake.next();
    // Page one is in: number 1 is served without waiting for the rest, number 3 still waits.
    expect(inventory.whenListed(number(1).id)).toBeUndefined();
    expect((await inventory.number(number(1).id))?.numberString).toBe(number(1).numberString);
    expect([threeAnswered, threeListed, missingSettled]).toEqual([false, false, false]);

    await fake.next();
    expect([threeListed, missingSettled]).toEqual([true, false]);
    expect((await three)?.id).toBe(number(3).id);

    await fake.next();
    await listed;
    // The list ended: whoever waited for a number it never showed is let go, and nothing waits any more.
    expect(missingSettled).toBe(true);
    expect(inventory.whenListed("not-in-any-page")).toBeUndefined();
    expect(await inventory.number("not-in-any-page")).toBeUndefined();
    expect(await inventory.countNumbers()).toBe(3);
    expect(fake.reads).toEqual([]);
  });

  it("serves what we wrote over an older page, and nothing we forgot", async () => {
    const fake = pagedBird([[number(1), number(2)], []]);
    const inventory = new Inventory(fake.bird, 60_000);
    const listed = inventory.refresh();
    await fake.next();
    inventory.putNumber(number(1, "provisioning"));
    inventory.forgetNumber(number(2).id);
    expect((await inventory.number(number(1).id))?.endpoint?.provisioningStatus).toBe("provisioning");
    const two = inventory.number(number(2).id);
    await fake.next();
    await listed;
    expect(await two).toBeUndefined();
  });
});

describe("Inventory against a Bird whose clock is 2 s behind ours", () => {
  let running: RunningSimulator;
  beforeAll(async () => {
    running = await startSimulator({ validateResponses: true, provisioningDelayMs: 0, clockSkewMs: -2000 });
  });
  afterAll(async () => {
    await running.close();
  });

  it("keeps a number bought while a list was in flight, although Bird dates it before the list started", async () => {
    const client = createBirdClient({
      baseUrl: running.url,
      organizationId: DEFAULT_ORGANIZATION_ID,
      workspaceId: DEFAULT_WORKSPACE_ID,
      accessKey: DEFAULT_ACCESS_KEY,
    });
    let pagesRead = (): void => undefined;
    const listed = new Promise<void>((resolve) => (pagesRead = resolve));
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    // The list reads Bird's pages, then waits: a purchase lands after its pages and before it finishes.
    const bird: BirdApi = Object.assign(Object.create(client) as BirdApi, {
      async *numbers(): AsyncGenerator<LongCodeNumber> {
        const pages: LongCodeNumber[] = [];
        for await (const number of client.numbers()) pages.push(number);
        pagesRead();
        await held;
        yield* pages;
      },
    });
    const inventory = new Inventory(bird, 60_000);
    const before =
      running.sim.snapshot(true).workspaces.find((w) => w.workspaceId === DEFAULT_WORKSPACE_ID)?.numbers?.length ?? 0;
    const counting = inventory.countNumbers();
    await listed;
    const [item] = (await client.searchStock({ countryCodes: ["NL"], types: ["mobile"] }, { limit: 1 })).results;
    const [bought] = await client.buyNumbers([item?.id ?? ""]);
    if (!bought) throw new Error("the simulator sold nothing");
    expect(Date.parse(bought.createdAt)).toBeLessThan(Date.now() - 1500);
    inventory.putNumber(bought);
    release();
    expect(await counting).toBe(before + 1);
    expect(await inventory.numberByString(bought.numberString)).toMatchObject({ id: bought.id });
    expect(running.sim.responseViolations()).toEqual([]);
  });
});
