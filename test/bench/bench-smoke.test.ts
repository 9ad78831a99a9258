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

  // The clone set-up copies what the operator writes: a status field it does not carry over shows as restart writes.
  it("clones the scale set-up so exactly that the restarted operator writes nothing", async () => {
    const run = await runBench({
      mode: "smoke",
      sizes: { ...SMOKE, scaleNumbers: 60 },
      outDir: mkdtempSync(join(tmpdir(), "bench-smoke-")),
      kubeconfigPath: inject("kubeconfigPath"),
      scenarios: ["scale"],
      scaleSetup: "clone",
      log: () => undefined,
    });
    const [scale] = run.results;
    expect(scale?.status, scale?.reason).not.toBe("failed");
    expect(scale?.details.setup).toBe("clone");
    const figure = (name: string): number | undefined => scale?.figures.find((f) => f.name === name)?.value;
    expect(figure("restart: Kubernetes writes until observed")).toBe(0);
    expect(figure("set-up: clone writes")).toBe((60 - 26) * 3 + 1);
  }, 300_000);
});
