import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../../", import.meta.url).pathname;
const LISTENING =
  /^Bird simulator listening on (http:\/\/127\.0\.0\.1:(\d+)) \(organization ([0-9a-f-]+), workspace ([0-9a-f-]+)\)$/m;

interface Started {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stdout: () => string;
  exit: Promise<number | null>;
}

async function startCli(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/dev/main.ts", "simulate", ...args], { cwd: ROOT });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = LISTENING.exec(stdout);
      if (match?.[1]) resolve(match[1]);
    });
    void exit.then((code) => reject(new Error(`simulate exited with ${code}: ${stderr}`)));
  });
  return { child, url, stdout: () => stdout, exit };
}

describe("bird-operator simulate", () => {
  it("prints its settings and one listening line with the real port, serves, and exits 0 on SIGTERM", async () => {
    const started = await startCli(["--port", "0"]);
    try {
      const output = started.stdout();
      expect(output).toContain("demo-access-key");
      expect(output.match(/Bird simulator listening on/g)).toHaveLength(1);
      const [, , port, organization, workspace] = LISTENING.exec(output) ?? [];
      expect(Number(port)).toBeGreaterThan(0);
      expect(organization).toBe("11111111-1111-4111-8111-111111111111");
      const answer = await fetch(`${started.url}/workspaces/${workspace}/numbers-alpha`, {
        headers: { authorization: "AccessKey demo-access-key" },
      });
      expect(answer.status).toBe(200);
    } finally {
      started.child.kill("SIGTERM");
    }
    expect(await started.exit).toBe(0);
  });

  it("takes identity, config and rate-limit flags", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bird-sim-"));
    const config = join(dir, "sim.yaml");
    writeFileSync(config, "stock:\n  countPerType: 2\nsenders:\n  - alphaString: CLI\n");
    const workspace = "55555555-5555-4555-8555-555555555555";
    const started = await startCli([
      "--port",
      "0",
      "--workspace-id",
      workspace,
      "--access-key",
      "k",
      "--config",
      config,
      "--no-rate-limits",
    ]);
    try {
      const answers = await Promise.all(
        Array.from({ length: 60 }, () =>
          fetch(`${started.url}/workspaces/${workspace}/numbers-alpha`, { headers: { authorization: "AccessKey k" } }),
        ),
      );
      expect(answers.every((a) => a.status === 200)).toBe(true);
      const body = (await answers[0]?.json()) as { results: { alphaString: string }[] };
      expect(body.results.map((s) => s.alphaString)).toEqual(["CLI"]);
      const state = (await (await fetch(`${started.url}/_simulator/state?lists=false`)).json()) as {
        organizations: { stock: { byCountry: Record<string, Record<string, number>> } }[];
      };
      expect(state.organizations[0]?.stock.byCountry.NL).toEqual({ local: 2, mobile: 2, "toll-free": 2, national: 2 });
    } finally {
      started.child.kill("SIGINT");
    }
    expect(await started.exit).toBe(0);
  });

  it("fails on a bad config file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bird-sim-"));
    const config = join(dir, "bad.yaml");
    writeFileSync(config, "stock:\n  countPerTyp: 2\n");
    await expect(startCli(["--port", "0", "--config", config])).rejects.toThrow(/Invalid simulator config/);
  });
});
