import { afterEach, describe, expect, it } from "vitest";
import { createBirdClient, resetRateLimiters, type BirdClient } from "../../src/bird/index.js";
import {
  DEFAULT_ACCESS_KEY,
  DEFAULT_ORGANIZATION_ID,
  DEFAULT_WORKSPACE_ID,
  startSimulator,
  type RunningSimulator,
} from "../../src/simulator/index.js";

const CANCEL_ROUTE = "/workspaces/{workspaceId}/endpoints/{endpointId}/subscriptions/{subscriptionName}/cancel";

/**
 * Cancels, deactivations and activations take the same guard as a buy (holderGuard: the record still binds the
 * resource, the lease is fresh), asked right before each attempt leaves: a 429 and its retry can take seconds, in which
 * the platform team may free the record and another team claim it.
 */
describe("a write's guard, against the simulator", () => {
  let running: RunningSimulator | undefined;
  afterEach(async () => {
    await running?.close();
    resetRateLimiters();
  });

  async function bought(routes: string[]): Promise<{ client: BirdClient; endpointId: string }> {
    running = await startSimulator({
      validateResponses: true,
      provisioningDelayMs: 0,
      faults: { rateLimitBurst: { count: 1 }, routes },
    });
    const client = createBirdClient({
      baseUrl: running.url,
      organizationId: DEFAULT_ORGANIZATION_ID,
      workspaceId: DEFAULT_WORKSPACE_ID,
      accessKey: DEFAULT_ACCESS_KEY,
      backoff: { baseMs: 50, maxMs: 100 },
    });
    const [item] = (await client.searchStock({ countryCodes: ["NL"], types: ["mobile"] }, { limit: 1 })).results;
    const [number] = await client.buyNumbers([item?.id ?? ""]);
    return { client, endpointId: number?.endpointId ?? "" };
  }

  /** A guard that lets the first attempt go and refuses the retry. */
  function refusesTheRetry(): { guard: () => Error | undefined; asked: () => number } {
    let asked = 0;
    return { guard: () => (++asked > 1 ? new Error("record taken over") : undefined), asked: () => asked };
  }

  it("stops a cancel whose guard turned false between a 429 and its retry: main stays active", async () => {
    const { client, endpointId } = await bought(["cancelSubscription"]);
    const { guard, asked } = refusesTheRetry();
    await expect(client.cancelSubscription(endpointId, "main", { guard })).rejects.toThrow("record taken over");
    expect(asked()).toBe(2);
    expect(running?.sim.calls().counts.filter((c) => c.route === CANCEL_ROUTE)).toEqual([
      { method: "POST", route: CANCEL_ROUTE, status: 429, count: 1 },
    ]);
    expect((await client.getSubscription(endpointId, "main")).status).toBe("active");
  });

  it.each([
    {
      route: "deactivateDestinations",
      write: (c: BirdClient, endpointId: string, guard: () => Error | undefined) =>
        c.deactivateDestinations(endpointId, "sms", ["NL"], { guard }),
    },
    {
      route: "activateDestinations",
      write: (c: BirdClient, endpointId: string, guard: () => Error | undefined) =>
        c.activateDestinations(endpointId, "sms", ["BE"], { guard }),
    },
  ])("stops $route the same way", async ({ route, write }) => {
    const { client, endpointId } = await bought([route]);
    const { guard, asked } = refusesTheRetry();
    await expect(write(client, endpointId, guard)).rejects.toThrow("record taken over");
    expect(asked()).toBe(2);
    const writes = (running?.sim.calls().counts ?? []).filter((c) => c.route.includes("/destinations/"));
    expect(writes.map((c) => c.status)).toEqual([429]);
  });
});
