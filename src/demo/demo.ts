import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";
import { ControlPlane } from "../control-plane/control-plane.js";
import { freezeConfig } from "../config.js";
import { createLogger } from "../log.js";
import { createOperator } from "../operator.js";
import { countryOf } from "../controllers/phone-number/desired.js";
import type { Manager } from "../runtime/manager.js";
import { Metrics } from "../runtime/metrics.js";
import { startSimulator, type RunningSimulator } from "../simulator/index.js";
import { readRows, renderTable, type Row } from "./table.js";

const CRD_DIR = fileURLToPath(new URL("../../crds", import.meta.url));

export interface DemoOptions {
  examplesDir: string;
  print: (text: string) => void;
}

export interface RunningDemo {
  plane: ControlPlane;
  simulator: RunningSimulator;
  manager: Manager;
  logFile: string;
  rows: () => Promise<Row[]>;
  stop: () => Promise<void>;
}

type Doc = { kind?: string; metadata?: { name?: string; namespace?: string }; spec?: Record<string, unknown> };

/**
 * Everything a newcomer needs on one machine: a control plane, the Bird simulator and the operator, with examples/
 * applied through kubectl as a user would. The simulator is seeded so that every example can become Ready: the
 * exact number is put in stock, the observe-only number into the workspace.
 */
export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const { print } = options;
  print("Starting a local control plane (etcd + kube-apiserver; the first run builds them from Go modules)...");
  const plane = await ControlPlane.start({ crdDir: CRD_DIR, onProgress: (line) => print(line) });
  const logFile = join(plane.dir, "operator.log");
  const simulator = await startSimulator({ port: 0, provisioningDelayMs: 1500 });
  print(`Bird simulator at ${simulator.url}`);
  const docs = readExamples(options.examplesDir);
  seedSimulator(simulator, docs);
  const config = demoConfig();
  const logger = createLogger({ level: "info", name: "bird-operator", destination: logFile });
  const manager = createOperator({ config, kubeConfig: plane.kubeConfig(), logger, metrics: new Metrics() });
  await manager.start();
  print(`Operator running (logs: ${logFile}; metrics: http://${manager.addresses?.metrics}/metrics)`);
  const manifests = docs.map((doc) =>
    doc.kind === "BirdWorkspace" ? { ...doc, spec: { ...doc.spec, endpoint: simulator.url } } : doc,
  );
  kubectl(plane.kubeconfigPath, ["apply", "-f", "-"], manifests.map((d) => stringify(d)).join("---\n"));
  print(`Applied ${manifests.length} objects from ${options.examplesDir} with kubectl`);
  const kubeConfig = plane.kubeConfig();
  return {
    plane,
    simulator,
    manager,
    logFile,
    rows: () => readRows(kubeConfig),
    stop: async () => {
      await manager.stop();
      await simulator.close();
      await plane.stop();
    },
  };
}

/** The operator's settings for the demo: one replica, small numbers, ports chosen by the system. */
function demoConfig(): ReturnType<typeof freezeConfig> {
  return freezeConfig({
    namespaces: [],
    operatorNamespace: "bird-operator",
    workers: 4,
    resyncMs: 60_000,
    leaderElection: {
      enabled: false,
      leaseName: "bird-operator",
      leaseNamespace: "bird-operator",
      identity: "demo",
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    },
    metricsAddress: "127.0.0.1:0",
    healthAddress: "127.0.0.1:0",
    logLevel: "info",
    logFormat: "json",
    purchaseGraceMs: 60_000,
    birdTimeoutMs: 10_000,
    shutdownDeadlineMs: 5_000,
  });
}

/** Waits until every example is Ready, printing the table each time it changes; returns the rows not Ready. */
export async function watchUntilReady(
  demo: RunningDemo,
  options: { timeoutMs: number; print: (text: string) => void; live: boolean },
): Promise<Row[]> {
  const deadline = Date.now() + options.timeoutMs;
  let last = "";
  for (;;) {
    const rows = await demo.rows();
    const table = renderTable(rows);
    if (table !== last) {
      options.print(options.live && process.stdout.isTTY ? `\x1b[2J\x1b[H${table}` : table);
      last = table;
    }
    const pending = rows.filter((r) => r.ready !== "True");
    if ((rows.length > 0 && pending.length === 0) || Date.now() > deadline) return pending;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function readExamples(dir: string): Doc[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), "utf8")).map((d) => d.toJS() as Doc))
    .filter((d) => d?.kind);
}

function seedSimulator(simulator: RunningSimulator, docs: Doc[]): void {
  for (const doc of docs) {
    const spec = doc.spec as
      { numberString?: string; managementPolicy?: string; countryCode?: string; type?: "local" | "mobile" } | undefined;
    if (doc.kind !== "PhoneNumber" || !spec?.numberString) continue;
    const countryCode = spec.countryCode ?? countryOf(spec.numberString) ?? "US";
    // Dutch numbers starting +316 are mobile; the examples use one so that it can send SMS.
    const type = spec.type ?? (spec.numberString.startsWith("+316") ? "mobile" : "local");
    if (spec.managementPolicy === "ObserveOnly")
      simulator.sim.addNumbers({ countryCode, type, numberString: spec.numberString });
    else simulator.sim.addStock([{ numberString: spec.numberString, countryCode, type }]);
  }
}

function kubectl(kubeconfig: string, args: string[], input?: string): string {
  const result = spawnSync("kubectl", [`--kubeconfig=${kubeconfig}`, ...args], { input, encoding: "utf8" });
  if (result.error) throw new Error(`kubectl is needed for the demo: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}
