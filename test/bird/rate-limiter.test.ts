import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createWorkspaceRateLimiter,
  rateLimiterFor,
  releaseRateLimiter,
  resetRateLimiters,
  sharedRateLimiterCount,
  TokenBucket,
} from "../../src/bird/index.js";
import { CubicRate, DEFAULT_WINDOW_MS } from "../../src/bird/rate-limiter.js";
import { fakeFetch, json, testClient } from "./helpers.js";

describe("TokenBucket", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const clock = (): number => Date.now();

  it(
    "lets a burst of `capacity` through at once, " + "then paces at the rate: 500 at 50/s with capacity 10 take 9.8 s",
    async () => {
      const bucket = new TokenBucket({ ratePerSecond: 50, capacity: 10, now: clock });
      const start = Date.now();
      const doneAt: number[] = [];
      const all = Array.from({ length: 500 }, () => bucket.acquire().then(() => doneAt.push(Date.now() - start)));

      await vi.advanceTimersByTimeAsync(0);
      expect(doneAt).toHaveLength(10);
      for (let t = 100; t <= 9_800; t += 100) {
        await vi.advanceTimersByTimeAsync(100);
        // Never more than the burst plus what the rate earned: the server's own bucket cannot overflow.
        expect(doneAt.length).toBe(Math.min(500, 10 + Math.floor((t * 50) / 1000)));
      }
      await Promise.all(all);
      expect(Math.max(...doneAt)).toBe(9_800);
      expect(bucket.pending).toBe(0);
    },
  );

  it("serves waiters in arrival order", async () => {
    const bucket = new TokenBucket({ ratePerSecond: 10, capacity: 1, now: clock });
    const order: number[] = [];
    const all = Array.from({ length: 20 }, (_, i) => bucket.acquire().then(() => order.push(i)));
    await vi.runAllTimersAsync();
    await Promise.all(all);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("serves background waiters only when no normal waiter waits", async () => {
    const bucket = new TokenBucket({ ratePerSecond: 10, capacity: 2, now: clock });
    const order: string[] = [];
    const background = Array.from({ length: 3 }, (_, i) =>
      bucket.acquire("background").then(() => order.push(`b${i}`)),
    );
    const normal = Array.from({ length: 3 }, (_, i) => bucket.acquire().then(() => order.push(`n${i}`)));
    await vi.runAllTimersAsync();
    await Promise.all([...background, ...normal]);
    // Two background callers found the bucket at least half full; every normal waiter then went ahead of the third.
    expect(order).toEqual(["b0", "b1", "n0", "n1", "n2", "b2"]);
  });

  it("leaves half the bucket to normal callers while background work streams", async () => {
    const bucket = new TokenBucket({ ratePerSecond: 50, capacity: 10, now: clock });
    const background = Array.from({ length: 100 }, () => bucket.acquire("background"));
    await vi.advanceTimersByTimeAsync(1000);
    // Background callers drain at the refill rate but never below half the bucket: a normal call goes at once.
    const waited = await bucket.acquire();
    expect(waited).toBe(0);
    expect(bucket.pending).toBeGreaterThan(0);
    await vi.runAllTimersAsync();
    await Promise.all(background);
    expect(bucket.pending).toBe(0);
  });

  it("reports how long each caller waited", async () => {
    const bucket = new TokenBucket({ ratePerSecond: 10, capacity: 1, now: clock });
    const first = bucket.acquire();
    const second = bucket.acquire();
    const third = bucket.acquire();
    await vi.advanceTimersByTimeAsync(200);
    expect(await Promise.all([first, second, third])).toEqual([0, 100, 200]);
  });

  it("refills to capacity while idle, and no further", async () => {
    const bucket = new TokenBucket({ ratePerSecond: 50, capacity: 10, now: clock });
    for (let i = 0; i < 10; i++) await bucket.acquire();
    await vi.advanceTimersByTimeAsync(60_000);
    const granted: number[] = [];
    const all = Array.from({ length: 11 }, () => bucket.acquire().then((waited) => granted.push(waited)));
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(20);
    await Promise.all(all);
    expect(granted).toHaveLength(11);
  });

  it("defaults capacity to a fifth of a second's worth", () => {
    expect(new TokenBucket({ ratePerSecond: 50 }).capacity).toBe(10);
    expect(new TokenBucket({ ratePerSecond: 500 }).capacity).toBe(100);
    expect(new TokenBucket({ ratePerSecond: 3 }).capacity).toBe(1);
  });

  it("uses timers, not a busy loop: one timer for any number of waiters", async () => {
    const bucket = new TokenBucket({ ratePerSecond: 1, capacity: 1, now: clock });
    const all = Array.from({ length: 100 }, () => bucket.acquire());
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(1);
    await vi.runAllTimersAsync();
    await Promise.all(all);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("takes a new rate in place, keeping waiters in order", async () => {
    const bucket = new TokenBucket({ ratePerSecond: 1, capacity: 1, now: clock });
    await bucket.acquire();
    const doneAt: number[] = [];
    const start = Date.now();
    const all = [bucket.acquire(), bucket.acquire()].map((p) => p.then(() => doneAt.push(Date.now() - start)));
    await vi.advanceTimersByTimeAsync(10);
    bucket.configure(100, 1);
    await vi.advanceTimersByTimeAsync(30);
    await Promise.all(all);
    expect(doneAt).toEqual([20, 30]);
    expect([bucket.ratePerSecond, bucket.capacity]).toEqual([100, 1]);
  });

  it("rejects a non-positive rate", () => {
    expect(() => new TokenBucket({ ratePerSecond: 0 })).toThrow(RangeError);
    expect(() => new TokenBucket({ ratePerSecond: Number.NaN })).toThrow(RangeError);
  });
});

/**
 * The most grants within any closed span of `spanMs`, both ends counted (the strictest sliding second Bird may count).
 */
function busiestSpan(times: number[], spanMs: number): number {
  let most = 0;
  for (let start = 0, end = 0; end < times.length; end++) {
    while ((times[end] as number) - (times[start] as number) > spanMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

describe("TokenBucket with a sliding window", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function grantTimes(bucket: TokenBucket, count: number): Promise<number[]> {
    const start = Date.now();
    const times: number[] = [];
    const all = Array.from({ length: count }, () => bucket.acquire().then(() => times.push(Date.now() - start)));
    await vi.runAllTimersAsync();
    await Promise.all(all);
    return times;
  }

  it.each([
    { reason: "a bucket alone (50/s, burst 10) lets 60 through the first second", window: undefined, most: 60 },
    {
      reason: "the default window (50 per 1.1 s) leaves Bird a tenth of a second for jitter",
      window: { count: 50, ms: DEFAULT_WINDOW_MS },
      most: 50,
    },
  ])("$reason", async ({ window, most }) => {
    const bucket = new TokenBucket({ ratePerSecond: 50, capacity: 10, window, now: () => Date.now() });
    const times = await grantTimes(bucket, 500);
    expect(busiestSpan(times, 1000)).toBe(most);
  });

  it("keeps a waiter for the window with one timer, and serves waiters in order", async () => {
    const bucket = new TokenBucket({
      ratePerSecond: 1000,
      capacity: 5,
      window: { count: 5, ms: 1000 },
      now: () => Date.now(),
    });
    const order: number[] = [];
    const all = Array.from({ length: 12 }, (_, i) => bucket.acquire().then(() => order.push(i)));
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toHaveLength(5);
    expect(vi.getTimerCount()).toBe(1);
    await vi.runAllTimersAsync();
    await Promise.all(all);
    expect(order).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });
});

describe("CubicRate (the AWS SDKs' adaptive retry rate)", () => {
  function cubic(ceiling = 50): { rate: CubicRate; at: (ms: number) => void } {
    let now = 0;
    return {
      rate: new CubicRate(
        ceiling,
        () => 1000,
        () => now,
      ),
      at: (ms) => (now = ms),
    };
  }

  it.each([
    { reason: "not throttled: the ceiling", throttles: [] as [number, number][], answeredAt: undefined, expected: 50 },
    {
      reason: "a 429 while sending 40/s cuts to 0.7 x 40",
      throttles: [[0, 40]] as [number, number][],
      answeredAt: undefined,
      expected: 28,
    },
    {
      reason: "what was sent counts, not the ceiling: sending 10/s cuts to 7",
      throttles: [[0, 10]] as [number, number][],
      answeredAt: undefined,
      expected: 7,
    },
    {
      reason: "nothing measured yet: the current rate is the base",
      throttles: [[0, 0]] as [number, number][],
      answeredAt: undefined,
      expected: 35,
    },
    {
      reason: "429s within the window of a cut answer requests sent before it: one cut",
      throttles: [
        [0, 40],
        [300, 28],
      ] as [number, number][],
      answeredAt: undefined,
      expected: 28,
    },
    {
      reason: "a 429 after the window cuts again",
      throttles: [
        [0, 40],
        [1500, 28],
      ] as [number, number][],
      answeredAt: undefined,
      expected: 19.6,
    },
    {
      reason: "the floor is half a request a second",
      throttles: [[0, 0.1]] as [number, number][],
      answeredAt: undefined,
      expected: 0.5,
    },
    // K = cbrt(40 * 0.3 / 0.4) = cbrt(30) = 3.107 s: the rate is back at 40 then.
    {
      reason: "successes bring the rate back to what was sent after K seconds",
      throttles: [[0, 40]] as [number, number][],
      answeredAt: Math.cbrt(30) * 1000,
      expected: 40,
    },
    {
      reason: "halfway to K it is still below what was sent",
      throttles: [[0, 40]] as [number, number][],
      answeredAt: 1500,
      expected: 0.4 * (1.5 - Math.cbrt(30)) ** 3 + 40,
    },
    {
      reason: "long after, the ceiling again",
      throttles: [[0, 40]] as [number, number][],
      answeredAt: 60_000,
      expected: 50,
    },
  ])("$reason", ({ throttles, answeredAt, expected }) => {
    const { rate, at } = cubic();
    for (const [ms, sending] of throttles) {
      at(ms);
      rate.throttled(sending);
    }
    if (answeredAt !== undefined) {
      at(answeredAt);
      rate.answered();
    }
    expect(rate.rate).toBeCloseTo(expected, 6);
  });
});

describe("a workspace limiter told of Bird's answers", () => {
  it("cuts the GET rate on a 429 while POSTs keep theirs, and recovers with later answers", () => {
    let now = 0;
    const limiter = createWorkspaceRateLimiter({}, () => now);
    expect(limiter.answered("GET", true)).toBeCloseTo(35, 6);
    expect([limiter.get.ratePerSecond, limiter.post.ratePerSecond]).toEqual([35, 500]);
    expect(limiter.post.capacity).toBe(100);
    now = 60_000;
    expect(limiter.answered("GET", false)).toBe(50);
    expect(limiter.answered("GET", false)).toBeUndefined();
    expect(limiter.get.ratePerSecond).toBe(50);
  });

  it("keeps a cut rate when a client of the workspace is rebuilt with the same limits", () => {
    resetRateLimiters();
    const limiter = rateLimiterFor("https://api.bird.com", "ws-adaptive", { getPerSecond: 40 });
    limiter.answered("GET", true);
    expect(rateLimiterFor("https://api.bird.com", "ws-adaptive", { getPerSecond: 40 }).get.ratePerSecond).toBeCloseTo(
      28,
      6,
    );
  });
});

describe("rateLimiterFor", () => {
  beforeEach(() => {
    resetRateLimiters();
  });

  it("shares one limiter per base URL and workspace, with Bird's limits by default", () => {
    const a = rateLimiterFor("https://api.bird.com", "ws-1");
    expect(rateLimiterFor("https://api.bird.com/", "ws-1")).toBe(a);
    expect(rateLimiterFor("https://api.bird.com", "ws-2")).not.toBe(a);
    expect(rateLimiterFor("http://127.0.0.1:9999", "ws-1")).not.toBe(a);
    expect(a.get.ratePerSecond).toBe(50);
    // GETs leave evenly spaced; the sliding window holds any 1.1 s to 50.
    expect(a.get.capacity).toBe(1);
    expect([a.get.window?.ms, a.post.window?.ms]).toEqual([1100, 1100]);
    expect(a.post.ratePerSecond).toBe(500);
    expect(a.post.capacity).toBe(100);
  });

  it("takes configured rates and bursts", () => {
    const limiter = rateLimiterFor("https://api.bird.com", "ws-3", { getPerSecond: 20, getBurst: 7, postPerSecond: 5 });
    expect([
      limiter.get.ratePerSecond,
      limiter.get.capacity,
      limiter.post.ratePerSecond,
      limiter.post.capacity,
    ]).toEqual([20, 7, 5, 1]);
  });

  it("applies the latest caller's limits to the shared buckets", () => {
    const first = rateLimiterFor("https://api.bird.com", "ws-4", { getPerSecond: 20 });
    const second = rateLimiterFor("https://api.bird.com", "ws-4", { getPerSecond: 10, postPerSecond: 100 });
    expect(second).toBe(first);
    expect([first.get.ratePerSecond, first.get.capacity, first.post.ratePerSecond, first.post.capacity]).toEqual([
      10, 1, 100, 20,
    ]);
    rateLimiterFor("https://api.bird.com", "ws-4");
    expect([first.get.ratePerSecond, first.post.ratePerSecond]).toEqual([50, 500]);
  });

  it("drops a workspace's limiter once every client that shared it let go", () => {
    const a = rateLimiterFor("https://api.bird.com", "ws-5");
    expect(rateLimiterFor("https://api.bird.com", "ws-5")).toBe(a);
    releaseRateLimiter("https://api.bird.com", "ws-5");
    expect(sharedRateLimiterCount()).toBe(1);
    releaseRateLimiter("https://api.bird.com", "ws-5");
    expect(sharedRateLimiterCount()).toBe(0);
    expect(rateLimiterFor("https://api.bird.com", "ws-5")).not.toBe(a);
  });

  it("lets a closed client go of its share once, however often it is closed", () => {
    const { fetch } = fakeFetch(() => json(200, { results: [] }));
    const [a, b] = [testClient(fetch, { workspaceId: "ws-6" }), testClient(fetch, { workspaceId: "ws-6" })];
    a.close();
    a.close();
    expect(sharedRateLimiterCount()).toBe(1);
    b.close();
    expect(sharedRateLimiterCount()).toBe(0);
  });

  it("forgets limiters on reset", () => {
    const a = rateLimiterFor("https://api.bird.com", "ws-1");
    resetRateLimiters();
    expect(rateLimiterFor("https://api.bird.com", "ws-1")).not.toBe(a);
  });

  it("makes two clients of one workspace wait for each other, and the stock search counts as a GET", async () => {
    const { fetch } = fakeFetch(() => json(200, { results: [] }));
    const waits: { client: string; method: string; seconds: number }[] = [];
    const make = (client: string, workspaceId: string): ReturnType<typeof testClient> =>
      testClient(fetch, {
        workspaceId,
        // One GET every 200 ms: b's wait stays well above the test's own delays on a loaded machine.
        rateLimits: { getPerSecond: 5, getBurst: 1 },
        observer: { rateLimitWait: (e) => waits.push({ client, ...e }) },
      });
    const a = make("a", "ws-shared");
    const b = make("b", "ws-shared");
    const other = make("other", "ws-other");

    await a.searchStock({ countryCodes: ["NL"] });
    await Promise.all([b.listNumbers(), other.listNumbers()]);

    expect(waits.find((w) => w.client === "a")?.seconds).toBe(0);
    expect(waits.find((w) => w.client === "b")?.seconds).toBeGreaterThanOrEqual(0.1);
    expect(waits.find((w) => w.client === "b")?.method).toBe("GET");
    expect(waits.find((w) => w.client === "other")?.seconds).toBe(0);
  });
});
