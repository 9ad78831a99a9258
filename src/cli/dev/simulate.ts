import { InvalidArgumentError, type Command } from "commander";
import { createLogger } from "../../log.js";
import {
  DEFAULT_ACCESS_KEY,
  DEFAULT_ORGANIZATION_ID,
  DEFAULT_PROVISIONING_DELAY_MS,
  DEFAULT_WORKSPACE_ID,
  type SimulatorOptions,
} from "../../simulator/types.js";
import { waitForSignal } from "./signals.js";

interface SimulateFlags {
  port: number;
  host: string;
  organizationId: string;
  workspaceId: string;
  accessKey: string;
  config?: string;
  provisioningDelay: number;
  rateLimits: boolean;
  latency: number;
  jitter: number;
}

function nonNegativeInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError("must be a non-negative integer");
  return parsed;
}

function port(value: string): number {
  const parsed = nonNegativeInteger(value);
  if (parsed > 65535) throw new InvalidArgumentError("must be at most 65535");
  return parsed;
}

function settingsText(flags: SimulateFlags): string {
  const rows: [string, string][] = [
    ["organization id", flags.organizationId],
    ["workspace id", flags.workspaceId],
    ["access key", flags.accessKey],
    ["config", flags.config ?? "built-in stock and senders"],
    ["provisioning delay", `${flags.provisioningDelay} ms`],
    ["rate limits", flags.rateLimits ? "GET 50/s, POST 500/s per workspace" : "off"],
    ["latency", `${flags.latency} ms + up to ${flags.jitter} ms jitter`],
  ];
  return `Bird simulator settings:\n${rows.map(([name, value]) => `  ${name.padEnd(20)}${value}\n`).join("")}`;
}

async function runSimulator(flags: SimulateFlags): Promise<void> {
  const logger = createLogger({ name: "bird-simulator" });
  const options: SimulatorOptions = {
    port: flags.port,
    host: flags.host,
    organizationId: flags.organizationId,
    workspaceId: flags.workspaceId,
    accessKey: flags.accessKey,
    provisioningDelayMs: flags.provisioningDelay,
    rateLimits: { enabled: flags.rateLimits },
    faults: { latencyMs: flags.latency, jitterMs: flags.jitter },
    logger,
  };
  // Loaded on use: `bird-operator run` should not carry the simulator (ajv, the compiled contract) in memory.
  const { loadSimulatorConfig, startSimulator } = await import("../../simulator/index.js");
  if (flags.config !== undefined) options.config = loadSimulatorConfig(flags.config);
  process.stdout.write(settingsText(flags));
  const stopped = waitForSignal();
  const running = await startSimulator(options);
  process.stdout.write(
    `Bird simulator listening on ${running.url} (organization ${flags.organizationId}, ` +
      `workspace ${flags.workspaceId})\n`,
  );
  const signal = await stopped;
  logger.info({ signal }, "Stopping the Bird simulator");
  await running.close();
  process.exitCode = 0;
}

/** `bird-operator simulate`: a stateful stand-in for api.bird.com, for demos, local runs and tests. */
export function registerSimulateCommand(program: Command): void {
  program
    .command("simulate")
    .description("run a stateful Bird Numbers API simulator (see docs/simulator.md)")
    .requiredOption("--port <port>", "port to listen on; 0 picks a free one", port)
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--organization-id <uuid>", "organization of the simulated workspace", DEFAULT_ORGANIZATION_ID)
    .option("--workspace-id <uuid>", "the simulated workspace", DEFAULT_WORKSPACE_ID)
    .option("--access-key <key>", "access key accepted for that workspace", DEFAULT_ACCESS_KEY)
    .option("--config <file>", "YAML or JSON file with stock, destinations and senders")
    .option(
      "--provisioning-delay <ms>",
      "time from purchase to provisioned",
      nonNegativeInteger,
      DEFAULT_PROVISIONING_DELAY_MS,
    )
    .option("--no-rate-limits", "do not enforce Bird's per-workspace rate limits")
    .option("--latency <ms>", "delay added to every answer", nonNegativeInteger, 0)
    .option("--jitter <ms>", "random extra delay up to this much", nonNegativeInteger, 0)
    .action(async (flags: SimulateFlags) => {
      await runSimulator(flags);
    });
}
