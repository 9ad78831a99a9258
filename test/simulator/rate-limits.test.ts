import { afterEach, describe, expect, it } from "vitest";
import type { RunningSimulator } from "../../src/simulator/index.js";
import { call, expectNoViolations, startTestSimulator, stockPath, workspacePath } from "./helpers.js";

async function burst(running: RunningSimulator, count: number, path: string): Promise<number[]> {
  const answers = await Promise.all(Array.from({ length: count }, () => call(running, "GET", path)));
  return answers.map((a) => a.status);
}

describe("simulator rate limits", () => {
  let running: RunningSimulator | undefined;

  afterEach(async () => {
    if (!running) return;
    expectNoViolations(running);
    await running.close();
    running = undefined;
  });

  it("answers 429 to GETs beyond 50 a second, and processes the rest", async () => {
    running = await startTestSimulator();
    // 200 at once: even on a loaded machine they arrive well within the 3 s the bucket would need to admit them all.
    const path = workspacePath(running, "/numbers-alpha");
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => call(running as RunningSimulator, "GET", path)),
    );
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(50);
    expect(limited[0]?.body).toMatchObject({ code: "too-many-requests" });
  });

  it("counts stock GETs against the caller's workspace and keeps POSTs in their own bucket", async () => {
    running = await startTestSimulator({ rateLimits: { getPerSecond: 5, postPerSecond: 5 } });
    const statuses = await burst(running, 5, stockPath(running));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect((await call(running, "GET", workspacePath(running, "/numbers-long-code"))).status).toBe(429);
    const post = await call(running, "POST", workspacePath(running, "/numbers-long-code"), {
      body: { numberStockItemIds: [] },
    });
    expect(post.status).toBe(422);
  });

  it("refills over time", async () => {
    running = await startTestSimulator({ rateLimits: { getPerSecond: 5 } });
    await burst(running, 6, workspacePath(running, "/numbers-alpha"));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await call(running, "GET", workspacePath(running, "/numbers-alpha"))).status).toBe(200);
  });

  it("in sliding mode, admits at most the rate in any sliding second, however long it was quiet before", async () => {
    running = await startTestSimulator({ rateLimits: { window: "sliding", getPerSecond: 20 } });
    const path = workspacePath(running, "/numbers-alpha");
    const first = await burst(running, 20, path);
    expect(first.every((s) => s === 200)).toBe(true);
    expect(await burst(running, 5, path)).toEqual([429, 429, 429, 429, 429]);
    // A bucket would have earned tokens back by now; the sliding second still holds the first 20.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await call(running, "GET", path)).status).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect((await burst(running, 20, path)).every((s) => s === 200)).toBe(true);
  });

  it("leaves only what another client of the workspace does not use (shared load)", async () => {
    running = await startTestSimulator({ rateLimits: { window: "sliding", getPerSecond: 50, sharedGetPerSecond: 20 } });
    const statuses = await burst(running, 40, workspacePath(running, "/numbers-alpha"));
    expect(statuses.filter((s) => s === 200)).toHaveLength(30);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    const put = await fetch(`${running.url}/_simulator/rate-limits`, {
      method: "PUT",
      body: JSON.stringify({ sharedGetPerSecond: -1 }),
    });
    expect(put.status).toBe(400);
  });

  it("lets nothing through as 429 when switched off, at start or at run time", async () => {
    running = await startTestSimulator({ rateLimits: { enabled: false } });
    expect((await burst(running, 60, workspacePath(running, "/numbers-alpha"))).every((s) => s === 200)).toBe(true);
    const put = await fetch(`${running.url}/_simulator/rate-limits`, {
      method: "PUT",
      body: JSON.stringify({ enabled: true }),
    });
    expect(await put.json()).toEqual({
      enabled: true,
      getPerSecond: 50,
      postPerSecond: 500,
      window: "bucket",
      sharedGetPerSecond: 0,
      sharedPostPerSecond: 0,
    });
    expect((await burst(running, 60, workspacePath(running, "/numbers-alpha"))).includes(429)).toBe(true);
  });
});
