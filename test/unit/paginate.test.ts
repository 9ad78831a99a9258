import { describe, expect, it } from "vitest";
import { paginate, paginateBothEnds } from "../../src/bird/paginate.js";
import type { Page } from "../../src/bird/types.js";
import { seededRandom } from "../../src/simulator/random.js";

/** Three pages of two items; records when each page was asked for, relative to the items handed out. */
function pages(): { fetchPage: (token?: string) => Promise<Page<string>>; log: string[] } {
  const log: string[] = [];
  const fetchPage = async (token?: string): Promise<Page<string>> => {
    const n = Number(token ?? 0);
    log.push(`fetch ${n}`);
    return { results: [`${n}a`, `${n}b`], nextPageToken: n < 2 ? String(n + 1) : undefined };
  };
  return { fetchPage, log };
}

describe("paginate", () => {
  it("asks for no page a consumer that stops early does not read", async () => {
    const { fetchPage, log } = pages();
    for await (const item of paginate(fetchPage, "r")) {
      log.push(item);
      if (item === "0b") break;
    }
    expect(log).toEqual(["fetch 0", "0a", "0b"]);
  });

  it("reads every page, and fails on a repeated token", async () => {
    const { fetchPage } = pages();
    const items: string[] = [];
    for await (const item of paginate(fetchPage, "r")) items.push(item);
    expect(items).toEqual(["0a", "0b", "1a", "1b", "2a", "2b"]);
    const looping = async (): Promise<Page<string>> => ({ results: ["x"], nextPageToken: "same" });
    await expect(async () => {
      for await (const _ of paginate(looping, "r")) void _;
    }).rejects.toThrow(/page token repeated/);
  });
});

interface Item {
  id: number;
  createdAt?: string;
}

/**
 * A list ordered by creation date as Bird documents it: ascending, `reverse` descending. Items of equal dates are
 * ordered by id in BOTH directions (so `reverse` is not the mirror image), the case a meeting test by id would get
 * wrong. Pages answer after a random delay so the two chains interleave differently on every run.
 */
function dated(
  dates: (number | undefined)[],
  pageSize: number,
  random: () => number,
): {
  fetchPage: (backwards: boolean, token?: string) => Promise<Page<Item>>;
  calls: { forward: number; reverse: number };
} {
  const items: Item[] = dates.map((at, id) => ({
    id,
    createdAt: at === undefined ? undefined : new Date(Date.UTC(2026, 0, 1) + at).toISOString(),
  }));
  const at = (item: Item): number => (item.createdAt ? Date.parse(item.createdAt) : 0);
  const forward = [...items].sort((a, b) => at(a) - at(b) || a.id - b.id);
  const reverse = [...items].sort((a, b) => at(b) - at(a) || a.id - b.id);
  const calls = { forward: 0, reverse: 0 };
  const fetchPage = async (backwards: boolean, token?: string): Promise<Page<Item>> => {
    await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 3)));
    calls[backwards ? "reverse" : "forward"]++;
    const order = backwards ? reverse : forward;
    const start = Number(token ?? 0);
    const end = start + pageSize;
    return { results: order.slice(start, end), nextPageToken: end < order.length ? String(end) : undefined };
  };
  return { fetchPage, calls };
}

async function readAll(
  fetchPage: (reverse: boolean, token?: string) => Promise<Page<Item>>,
  pageSize: number,
  reverseAfterPages = 2,
): Promise<Set<number>> {
  const seen = new Set<number>();
  for await (const item of paginateBothEnds(fetchPage, (i) => i.createdAt, "r", { pageSize, reverseAfterPages }))
    seen.add(item.id);
  return seen;
}

describe("paginateBothEnds", () => {
  it("reads a long list from both ends, every item, with at most one page more than one chain needs", async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const random = seededRandom(seed);
      const count = 1000 + seed * 7;
      const dates = Array.from({ length: count }, (_, i) => i * 10);
      const { fetchPage, calls } = dated(dates, 10, random);
      const seen = await readAll(fetchPage, 10);
      expect(seen.size).toBe(count);
      expect(calls.reverse).toBeGreaterThan(20);
      expect(calls.forward).toBeGreaterThan(20);
      // The chains must overlap by two items to know they met: at most one page more than ceil(count / 10).
      expect(calls.forward + calls.reverse, `seed ${seed}`).toBeLessThanOrEqual(Math.ceil((count + 2) / 10));
    }
  });

  it("misses nothing when equal dates are ordered the same way in both directions (groups of every size)", async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const random = seededRandom(seed);
      const count = 20 + Math.floor(random() * 400);
      const group = 1 + Math.floor(random() * 40);
      const pageSize = 1 + Math.floor(random() * 12);
      const dates = Array.from({ length: count }, (_, i) => Math.floor(i / group));
      const { fetchPage } = dated(dates, pageSize, random);
      const seen = await readAll(fetchPage, pageSize);
      expect(seen.size, `seed ${seed}: ${count} items, groups of ${group}, pages of ${pageSize}`).toBe(count);
    }
  });

  it("falls back to one chain read to the end when dates go the wrong way or are missing", async () => {
    const random = seededRandom(7);
    const shuffled = Array.from({ length: 300 }, () => Math.floor(random() * 1000));
    const unordered = dated(shuffled, 10, random);
    // The fake sorts by date, so wrong-way dates need a list that does not: forward and reverse both as created.
    const raw = async (backwards: boolean, token?: string): Promise<Page<Item>> => {
      const page = await unordered.fetchPage(false, token);
      return backwards ? { ...page, results: [...page.results].reverse() } : page;
    };
    const items = Array.from({ length: 300 }, (_, i) => i);
    expect([...(await readAll(raw, 10))].sort((a, b) => a - b)).toEqual(items);
    const undated = dated(
      Array.from({ length: 300 }, (_, i) => (i === 150 ? undefined : i)),
      10,
      random,
    );
    expect((await readAll(undated.fetchPage, 10)).size).toBe(300);
  });

  it("keeps short lists to one chain: no page more than a one-ended list", async () => {
    const random = seededRandom(3);
    for (const count of [0, 1, 10, 45]) {
      const { fetchPage, calls } = dated(
        Array.from({ length: count }, (_, i) => i),
        10,
        random,
      );
      expect((await readAll(fetchPage, 10, 5)).size).toBe(count);
      expect(calls).toEqual({ forward: Math.max(1, Math.ceil(count / 10)), reverse: 0 });
    }
  });

  it("finishes from the first end when the second chain fails; fails when the first does", async () => {
    const random = seededRandom(5);
    const { fetchPage } = dated(
      Array.from({ length: 200 }, (_, i) => i),
      10,
      random,
    );
    let reverseCalls = 0;
    const failingReverse = (backwards: boolean, token?: string): Promise<Page<Item>> => {
      if (backwards && ++reverseCalls === 2) return Promise.reject(new Error("503"));
      return fetchPage(backwards, token);
    };
    expect((await readAll(failingReverse, 10)).size).toBe(200);
    const failingForward = (backwards: boolean, token?: string): Promise<Page<Item>> =>
      !backwards && token === "50" ? Promise.reject(new Error("boom")) : fetchPage(backwards, token);
    await expect(readAll(failingForward, 10, 100)).rejects.toThrow("boom");
  });
});
