import { describe, expect, it } from "vitest";
import { formatResult, replayCommand, runCampaign } from "../../chaos/campaign.js";

/** Fixed, so that `npm test` is the same run every time; `npm run chaos` draws a new seed each run. */
const SEED = 20261122;

/**
 * The short chaos campaign (issue #9) inside `npm test`: every scenario, fewer resources and kills. It starts its
 * own control plane, because one scenario restarts the API server. `npm run chaos` runs the full campaign.
 */
describe("chaos campaign, short", () => {
  it("finds no violation in any scenario", { timeout: 240_000 }, async () => {
    const lines: string[] = [];
    const result = await runCampaign({ short: true, seed: SEED, log: (line) => lines.push(line) });
    console.log(
      [
        ...result.scenarios.map(formatResult),
        `seed ${result.seed}, ${(result.durationMs / 1000).toFixed(0)} s; replay with: ` +
          `${replayCommand(result.seed, true)}`,
      ].join("\n"),
    );
    expect(result.scenarios.map((s) => s.name)).toEqual([
      "kill-storm",
      "bird-faults",
      "apiserver-restart",
      "leader-failover",
      "stale-leader",
      "mass-deletion",
      "bad-input",
      "secrets",
    ]);
    expect(result.violations, lines.join("\n")).toEqual([]);
  });
});
