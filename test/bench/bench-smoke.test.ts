import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { runBench } from "../../bench/bench.js";
import { SCENARIOS, SMOKE } from "../../bench/lib/context.js";

/**
 * `npm run bench` with a tiny N against the suite's control plane: proves every scenario runs end to end and writes
 * its JSON. No figure is asserted: timings on a shared two-core machine belong in the benchmark, not in a test.
 */
describe("benchmark smoke run", () => {
  it("runs every scenario and writes one JSON result each", async () => {
    const outDir = mkdtempSync(join(tmpdir(), "bench-smoke-"));
    const run = await runBench({
      mode: "smoke",
      sizes: SMOKE,
      outDir,
      kubeconfigPath: inject("kubeconfigPath"),
      log: () => undefined,
    });
    expect(run.results.map((r) => r.scenario)).toEqual([...SCENARIOS]);
    for (const result of run.results)
      expect(result.status, `${result.scenario}: ${result.reason ?? ""}`).not.toBe("failed");
    for (const file of run.files) {
      const written = JSON.parse(readFileSync(file, "utf8")) as {
        scenario: string;
        figures: unknown[];
        machine: { nproc: number };
      };
      expect(written.figures.length).toBeGreaterThan(0);
      expect(written.machine.nproc).toBeGreaterThan(0);
    }
    expect(run.table).toContain("provisioning");
  }, 300_000);
});
