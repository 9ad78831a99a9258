import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { testCluster } from "../helpers/cluster.js";
import { createFixture, ORGANIZATION_ID, WORKSPACE_ID, ACCESS_KEY } from "../support/fixtures.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
/** The development command line (`npm run dev`): the shipped commands and the simulator, control plane and demo. */
const DEV_CLI = fileURLToPath(new URL("../../src/cli/dev/main.ts", import.meta.url));
const SHIPPED = ["run", "stock", "plan", "version"];
const DEV_ONLY = ["simulate", "cluster", "demo"];

function cli(
  args: string[],
  timeoutMs = 60_000,
  entry = CLI,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The command line as a user meets it: help on every command, the stock table, and the one-command demo. */
describe("bird-operator command line", () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
  });

  afterAll(async () => {
    await sim?.close();
  });

  it(
    "documents every command and every flag of run; " + "the development commands only in the development entry",
    async () => {
      const top = await cli(["--help"]);
      expect(top.code).toBe(0);
      for (const command of SHIPPED) expect(top.stdout).toContain(command);
      for (const command of DEV_ONLY) expect(top.stdout).not.toMatch(new RegExp(`^  ${command}\\b`, "m"));
      const devTop = await cli(["--help"], 60_000, DEV_CLI);
      for (const command of [...SHIPPED, ...DEV_ONLY]) {
        expect(devTop.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
        const help = await cli([command, "--help"], 60_000, DEV_CLI);
        expect(help.code, command).toBe(0);
        expect(help.stdout).toContain(`Usage: bird-operator ${command}`);
      }
      const run = await cli(["run", "--help"]);
      for (const flag of [
        "--kubeconfig",
        "--namespaces",
        "--workspace-selector",
        "--operator-namespace",
        "--workers",
        "--resync",
        "--no-leader-elect",
        "--lease-name",
        "--lease-namespace",
        "--lease-duration",
        "--renew-deadline",
        "--retry-period",
        "--metrics-address",
        "--health-address",
        "--log-level",
        "--log-format",
        "--purchase-grace",
        "--bird-timeout",
        "--shutdown-deadline",
      ]) {
        expect(run.stdout).toContain(flag);
      }
      expect((await cli(["version"])).stdout).toMatch(/^bird-operator \d+\.\d+\.\d+/);
    },
    120_000,
  );

  it("lists stock through flags and through a BirdWorkspace, and says what is missing", async () => {
    const byFlags = await cli([
      "stock",
      "--country",
      "US",
      "--type",
      "local",
      "--prefix",
      "+1212",
      "--limit",
      "5",
      "--endpoint",
      sim.url,
      "--organization-id",
      ORGANIZATION_ID,
      "--workspace-id",
      WORKSPACE_ID,
      "--access-key",
      ACCESS_KEY,
    ]);
    expect(byFlags.code).toBe(0);
    const lines = byFlags.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^NUMBER\s+COUNTRY\s+TYPE\s+CAPABILITIES\s+MONTHLY PRICE$/);
    expect(lines.length).toBe(6);
    for (const line of lines.slice(1)) expect(line).toMatch(/^\+1212\d{7}\s+US\s+local\s+.*\d+\.\d{2} (EUR|USD)$/);

    const cluster = testCluster();
    const fixture = await createFixture(cluster, sim.url);
    const byWorkspace = await cli([
      "stock",
      "--country",
      "NL",
      "--type",
      "mobile",
      "--limit",
      "3",
      "--workspace",
      fixture.workspace,
      "--kubeconfig",
      cluster.kubeconfigPath,
    ]);
    expect(byWorkspace.code).toBe(0);
    expect(byWorkspace.stdout).toMatch(/\+316\d+\s+NL\s+mobile/);

    const missing = await cli(["stock", "--country", "US"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("--workspace");
    expect(missing.stderr).not.toContain("    at ");
  }, 120_000);

  it("npm run demo -- --check brings every example to Ready and stops everything", async () => {
    const demo = await cli(["demo", "--check", "--timeout", "150"], 240_000, DEV_CLI);
    expect(demo.stdout).toContain("Every example is Ready.");
    expect(demo.code).toBe(0);
  }, 250_000);
});
