import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBirdClient, resetRateLimiters } from "../../src/bird/index.js";
import { DEFAULT_ACCESS_KEY, DEFAULT_ORGANIZATION_ID, DEFAULT_WORKSPACE_ID, startSimulator, type RunningSimulator } from "../../src/simulator/index.js";

/** The client's shared limiter against a simulator that enforces Bird's limits: a burst is paced, never refused. */
describe("rate limiting against the simulator", () => {
  let running: RunningSimulator;

  beforeAll(async () => {
    resetRateLimiters();
    running = await startSimulator({ port: 0, rateLimits: { enabled: true, getPerSecond: 50, postPerSecond: 500 } });
  });

  afterAll(async () => {
    await running?.close();
  });

  it("holds a burst of 500 GETs from two clients of one workspace to 50/s without a single 429", async () => {
    const options = { baseUrl: running.url, organizationId: DEFAULT_ORGANIZATION_ID, workspaceId: DEFAULT_WORKSPACE_ID, accessKey: DEFAULT_ACCESS_KEY };
    const [a, b] = [createBirdClient(options), createBirdClient(options)];
    const started = Date.now();
    await Promise.all(Array.from({ length: 500 }, (_, i) => (i % 2 ? a : b).listAlphaNumbers({ limit: 1 })));
    const seconds = (Date.now() - started) / 1000;
    const counts = running.sim.calls().counts;
    expect(counts.filter((c) => c.status === 429)).toEqual([]);
    expect(counts.filter((c) => c.status === 200).reduce((n, c) => n + c.count, 0)).toBe(500);
    // The limiter can only make it slower than (500 - burst) / 50 s, never faster.
    expect(seconds).toBeGreaterThanOrEqual(9);
  }, 60_000);
});
