import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WorkQueue } from "../../src/runtime/queue.js";
import { Metrics } from "../../src/runtime/metrics.js";

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets the queue's promise chains settle without moving the fake clock. */
async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

/** A handler that records when each key ran, and how many runs of each key overlapped. */
function recorder(work: (key: string) => Promise<void> = () => Promise.resolve()): {
  handler: (key: string) => Promise<void>;
  runs: { key: string; at: number }[];
  maxConcurrent: Map<string, number>;
} {
  const runs: { key: string; at: number }[] = [];
  const running = new Map<string, number>();
  const maxConcurrent = new Map<string, number>();
  const handler = async (key: string): Promise<void> => {
    runs.push({ key, at: Date.now() });
    const now = (running.get(key) ?? 0) + 1;
    running.set(key, now);
    maxConcurrent.set(key, Math.max(now, maxConcurrent.get(key) ?? 0));
    try {
      await work(key);
    } finally {
      running.set(key, (running.get(key) ?? 1) - 1);
    }
  };
  return { handler, runs, maxConcurrent };
}

describe("WorkQueue", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it("keeps a waiting key in the queue once", async () => {
    const queue = new WorkQueue({ name: "test" });
    queue.add("ns/a");
    queue.add("ns/b");
    queue.add("ns/a");
    expect(queue.len()).toBe(2);
    const { handler, runs } = recorder();
    queue.start(1, handler);
    await settle();
    expect(runs.map((r) => r.key)).toEqual(["ns/a", "ns/b"]);
    expect(queue.isIdle()).toBe(true);
  });

  it("runs a key re-added while processing once more afterwards, never concurrently", async () => {
    const queue = new WorkQueue({ name: "test" });
    const { handler, runs, maxConcurrent } = recorder(() => new Promise((r) => setTimeout(r, 100)));
    queue.start(4, handler);
    queue.add("a");
    await settle();
    expect(runs).toHaveLength(1);
    queue.add("a");
    queue.add("a");
    await vi.advanceTimersByTimeAsync(50);
    queue.add("a");
    expect(runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(50);
    expect(runs).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs).toHaveLength(2);
    expect(maxConcurrent.get("a")).toBe(1);
    expect(queue.isIdle()).toBe(true);
  });

  it("never runs one key twice at once under a storm of adds with many workers", async () => {
    const queue = new WorkQueue({ name: "test" });
    const { handler, runs, maxConcurrent } = recorder(() => new Promise((r) => setTimeout(r, 7)));
    queue.start(8, handler);
    for (let i = 0; i < 200; i++) {
      queue.add(`k${i % 5}`);
      await vi.advanceTimersByTimeAsync(1);
    }
    await vi.advanceTimersByTimeAsync(100);
    expect([...maxConcurrent.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(runs.map((r) => r.key)).size).toBe(5);
    expect(queue.isIdle()).toBe(true);
  });

  it("runs distinct keys in parallel up to the number of workers, FIFO", async () => {
    const queue = new WorkQueue({ name: "test" });
    const gates = new Map<string, Deferred>();
    const { handler, runs } = recorder((key) => {
      const gate = deferred();
      gates.set(key, gate);
      return gate.promise;
    });
    queue.start(3, handler);
    for (const key of ["a", "b", "c", "d", "e"]) queue.add(key);
    await settle();
    expect(runs.map((r) => r.key)).toEqual(["a", "b", "c"]);
    expect(queue.len()).toBe(2);
    gates.get("b")?.resolve();
    await settle();
    expect(runs.map((r) => r.key)).toEqual(["a", "b", "c", "d"]);
    for (const gate of gates.values()) gate.resolve();
    await settle();
    for (const gate of gates.values()) gate.resolve();
    await settle();
    expect(runs.map((r) => r.key)).toEqual(["a", "b", "c", "d", "e"]);
    expect(queue.isIdle()).toBe(true);
  });

  it("keeps working after a handler throws or rejects", async () => {
    const queue = new WorkQueue({ name: "test" });
    const seen: string[] = [];
    queue.start(1, (key) => {
      seen.push(key);
      if (key === "sync") throw new Error("sync boom");
      if (key === "async") return Promise.reject(new Error("async boom"));
      return Promise.resolve();
    });
    queue.add("sync");
    queue.add("async");
    queue.add("fine");
    await settle();
    queue.add("sync");
    await settle();
    expect(seen).toEqual(["sync", "async", "fine", "sync"]);
    expect(queue.isIdle()).toBe(true);
  });

  describe("rate limited retries", () => {
    async function retryDelays(queue: WorkQueue, key: string, times: number): Promise<number[]> {
      const { handler, runs } = recorder();
      queue.start(1, handler);
      const delays: number[] = [];
      for (let i = 0; i < times; i++) {
        const before = Date.now();
        queue.addRateLimited(key);
        while (runs.length === i) await vi.advanceTimersByTimeAsync(1);
        delays.push((runs[i]?.at ?? NaN) - before);
      }
      return delays;
    }

    it("backs off exponentially from the base delay, capped at the maximum", async () => {
      vi.spyOn(Math, "random").mockReturnValue(0);
      const queue = new WorkQueue({ name: "test", baseDelayMs: 5, maxDelayMs: 200 });
      expect(await retryDelays(queue, "a", 8)).toEqual([5, 10, 20, 40, 80, 160, 200, 200]);
      expect(queue.failures("a")).toBe(8);
    });

    it("adds at most `jitter` of the delay at random", async () => {
      vi.spyOn(Math, "random").mockReturnValue(0.999);
      const queue = new WorkQueue({ name: "test", baseDelayMs: 100, jitter: 0.1 });
      const delays = await retryDelays(queue, "a", 4);
      [100, 200, 400, 800].forEach((base, i) => {
        expect(delays[i]).toBeGreaterThanOrEqual(base * 1.09);
        expect(delays[i]).toBeLessThanOrEqual(base * 1.1 + 1);
      });
    });

    it("starts again from the base delay after forget", async () => {
      vi.spyOn(Math, "random").mockReturnValue(0);
      const queue = new WorkQueue({ name: "test", baseDelayMs: 5 });
      const { handler, runs } = recorder();
      queue.start(1, handler);
      for (let i = 0; i < 4; i++) queue.addRateLimited("a");
      expect(queue.failures("a")).toBe(4);
      queue.forget("a");
      expect(queue.failures("a")).toBe(0);
      await vi.advanceTimersByTimeAsync(10);
      const before = Date.now();
      queue.addRateLimited("a");
      await vi.advanceTimersByTimeAsync(5);
      expect(runs.at(-1)?.at).toBe(before + 5);
    });

    it("spreads retries of many keys at the overall rate once the burst is spent", async () => {
      vi.spyOn(Math, "random").mockReturnValue(0);
      const queue = new WorkQueue({ name: "test", baseDelayMs: 1, overallRate: { perSecond: 10, burst: 2 } });
      const { handler, runs } = recorder();
      queue.start(10, handler);
      const start = Date.now();
      for (const key of ["a", "b", "c", "d", "e"]) queue.addRateLimited(key);
      await vi.advanceTimersByTimeAsync(1000);
      expect(runs.map((r) => [r.key, r.at - start])).toEqual([
        ["a", 1],
        ["b", 1],
        ["c", 100],
        ["d", 200],
        ["e", 300],
      ]);
    });
  });

  describe("addAfter", () => {
    it("hands keys out in order of their deadlines", async () => {
      const queue = new WorkQueue({ name: "test" });
      const { handler, runs } = recorder();
      queue.start(1, handler);
      const start = Date.now();
      queue.addAfter("a", 300);
      queue.addAfter("b", 100);
      queue.addAfter("c", 200);
      queue.addAfter("now", 0);
      await vi.advanceTimersByTimeAsync(1000);
      expect(runs.map((r) => [r.key, r.at - start])).toEqual([
        ["now", 0],
        ["b", 100],
        ["c", 200],
        ["a", 300],
      ]);
      expect(vi.getTimerCount()).toBe(0);
    });

    it("keeps the soonest of two pending delays for one key", async () => {
      const queue = new WorkQueue({ name: "test" });
      const { handler, runs } = recorder();
      queue.start(1, handler);
      const start = Date.now();
      queue.addAfter("later-first", 1000);
      queue.addAfter("later-first", 100);
      queue.addAfter("sooner-first", 50);
      queue.addAfter("sooner-first", 2000);
      await vi.advanceTimersByTimeAsync(5000);
      expect(runs.map((r) => [r.key, r.at - start])).toEqual([
        ["sooner-first", 50],
        ["later-first", 100],
      ]);
    });

    it("does not hand out a delayed key that is already waiting twice", async () => {
      const queue = new WorkQueue({ name: "test" });
      queue.add("a");
      queue.addAfter("a", 10);
      await vi.advanceTimersByTimeAsync(20);
      expect(queue.len()).toBe(1);
    });

    it("hands out every delayed key once, in deadline order, through reschedules and drops (model check)", async () => {
      let seed = 11;
      const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
      const queue = new WorkQueue({ name: "test" });
      const { handler, runs } = recorder();
      queue.start(1, handler);
      const start = Date.now();
      const expected = new Map<string, number>();
      for (let i = 0; i < 3000; i++) {
        const key = `k${Math.floor(random() * 800)}`;
        const roll = random();
        if (roll < 0.15) {
          queue.drop(key);
          expected.delete(key);
        } else {
          const delay = 1 + Math.floor(random() * 10_000);
          queue.addAfter(key, delay);
          expected.set(key, Math.min(expected.get(key) ?? Infinity, delay));
        }
      }
      await vi.advanceTimersByTimeAsync(20_000);
      const order = [...expected].sort((a, b) => a[1] - b[1] || 0);
      expect(runs.map((r) => r.at - start)).toEqual(order.map(([, at]) => at));
      expect(new Set(runs.map((r) => r.key))).toEqual(new Set(expected.keys()));
      expect(runs.every((r) => r.at - start === expected.get(r.key))).toBe(true);
      expect(queue.trackedKeys().size).toBe(0);
    });

    it("keeps one timer for many delayed keys", () => {
      const queue = new WorkQueue({ name: "test" });
      for (let i = 0; i < 1000; i++) queue.addAfter(`k${i}`, 1000 + i);
      expect(vi.getTimerCount()).toBe(1);
      queue.addAfter("sooner", 10);
      expect(vi.getTimerCount()).toBe(1);
    });
  });

  describe("shutdown", () => {
    it("waits for running handlers, then hands out nothing more", async () => {
      const queue = new WorkQueue({ name: "test" });
      const gate = deferred();
      const { handler, runs } = recorder((key) => (key === "slow" ? gate.promise : Promise.resolve()));
      queue.start(2, handler);
      queue.add("slow");
      await settle();
      queue.addAfter("delayed", 60_000);
      let finished = false;
      const stopping = queue.shutdown(10_000).then(() => (finished = true));
      queue.add("new");
      await vi.advanceTimersByTimeAsync(100);
      expect(finished).toBe(false);
      gate.resolve();
      await stopping;
      expect(runs.map((r) => r.key)).toEqual(["slow"]);
      expect(vi.getTimerCount()).toBe(0);
    });

    it("returns at the deadline when a handler hangs", async () => {
      const queue = new WorkQueue({ name: "test" });
      queue.start(1, () => new Promise<void>(() => undefined));
      queue.add("stuck");
      await settle();
      let finished = false;
      const stopping = queue.shutdown(500).then(() => (finished = true));
      await vi.advanceTimersByTimeAsync(499);
      expect(finished).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await stopping;
      expect(finished).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  it("reports depth, adds, retries and durations", async () => {
    const metrics = new Metrics();
    const queue = new WorkQueue({ name: "phonenumber", metrics });
    const labels = { name: "phonenumber" };
    queue.add("a");
    queue.add("b");
    queue.add("a");
    expect((await metrics.workqueueDepth.get()).values[0]?.value).toBe(2);
    expect((await metrics.workqueueAdds.get()).values[0]).toMatchObject({ value: 2, labels });
    queue.start(1, () => new Promise((r) => setTimeout(r, 50)));
    queue.addRateLimited("c");
    await vi.advanceTimersByTimeAsync(1000);
    expect((await metrics.workqueueDepth.get()).values[0]?.value).toBe(0);
    expect((await metrics.workqueueRetries.get()).values[0]).toMatchObject({ value: 1, labels });
    const count = async (histogram: typeof metrics.workqueueWorkDuration): Promise<number | undefined> =>
      (await histogram.get()).values.find((v) => v.metricName?.endsWith("_count"))?.value;
    expect(await count(metrics.workqueueQueueDuration)).toBe(3);
    expect(await count(metrics.workqueueWorkDuration)).toBe(3);
    const sum = (await metrics.workqueueQueueDuration.get()).values.find((v) => v.metricName?.endsWith("_sum"));
    // "b" waited for "a" (50 ms); "c" waited for its backoff and then for "b".
    expect(sum?.value).toBeGreaterThanOrEqual(0.05);
  });

  it("reports unfinished work and the longest running processor as client-go does, back to 0 when done", async () => {
    const metrics = new Metrics();
    const queue = new WorkQueue({ name: "phonenumber", metrics });
    const gates = new Map([
      ["a", deferred()],
      ["b", deferred()],
    ]);
    queue.start(2, (key) => gates.get(key)?.promise ?? Promise.resolve());
    const scrape = async (): Promise<[number | undefined, number | undefined]> => [
      (await metrics.workqueueUnfinishedWork.get()).values.find((v) => v.labels.name === "phonenumber")?.value,
      (await metrics.workqueueLongestRunning.get()).values.find((v) => v.labels.name === "phonenumber")?.value,
    ];
    queue.add("a");
    await vi.advanceTimersByTimeAsync(3000);
    queue.add("b");
    await vi.advanceTimersByTimeAsync(1000);
    expect(await scrape()).toEqual([4 + 1, 4]);
    gates.get("a")?.resolve();
    await settle();
    expect(await scrape()).toEqual([1, 1]);
    gates.get("b")?.resolve();
    await settle();
    expect(await scrape()).toEqual([0, 0]);
  });
});

describe("WorkQueue and the event loop", () => {
  it("lets the event loop turn during a burst of handlers that never wait on I/O", async () => {
    const queue = new WorkQueue({ name: "test" });
    const order: string[] = [];
    let done = 0;
    const finished = new Promise<void>((resolve) => {
      queue.start(32, (key) => {
        // 3 ms of synchronous work, like a reconcile that finds nothing to change.
        const until = performance.now() + 3;
        while (performance.now() < until);
        order.push(key);
        if (++done === 40) resolve();
        return Promise.resolve();
      });
    });
    for (let i = 0; i < 40; i++) queue.add(`k${i}`);
    // Stands for an answer that arrived meanwhile (a Bird page, a watch event): it must not wait for all 40.
    setImmediate(() => order.push("io"));
    await finished;
    const io = order.indexOf("io");
    expect(io).toBeGreaterThan(0);
    expect(io).toBeLessThan(10);
    expect(order.filter((k) => k !== "io")).toEqual(Array.from({ length: 40 }, (_, i) => `k${i}`));
  });
});
