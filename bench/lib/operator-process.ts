import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { freePort } from "../../src/control-plane/processes.js";
import { OperatorProcess, type OperatorRuntime } from "../../test/support/operator-process.js";
import { parseMetrics, type Sample } from "./prom.js";
import { pollUntil } from "./util.js";

export { buildCompiledOperator, type OperatorRuntime } from "../../test/support/operator-process.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

export interface BenchOperatorOptions {
  kubeconfigPath: string;
  namespace: string;
  workspaceSelector: string;
  /** `--resync`, e.g. `10m` (the default) or `5s` for the idle-cost scenario. */
  resync: string;
  workers: number;
  logFile: string;
  /** Directory for a V8 CPU profile written when the process exits. */
  cpuProfDir?: string;
  /** Directory for heap snapshots, written on SIGUSR2 (see writeHeapSnapshot). */
  heapSnapshotDir?: string;
  logLevel?: string;
  runtime?: OperatorRuntime;
}

/**
 * `bird-operator run` as its own process (test/support's OperatorProcess), its output in a file: its CPU and memory
 * are its own, /metrics is scraped over HTTP at a known port and /readyz tells when it is ready.
 */
export class BenchOperator extends OperatorProcess {
  private constructor(
    options: ConstructorParameters<typeof OperatorProcess>[0],
    readonly metricsUrl: string,
    readonly readyUrl: string,
  ) {
    super(options);
  }

  static async start(options: BenchOperatorOptions): Promise<BenchOperator> {
    const [metricsPort, healthPort] = [await freePort(), await freePort()];
    const args = [
      `--kubeconfig=${options.kubeconfigPath}`,
      "--no-leader-elect",
      `--metrics-address=127.0.0.1:${metricsPort}`,
      `--health-address=127.0.0.1:${healthPort}`,
      `--namespaces=${options.namespace}`,
      `--operator-namespace=${options.namespace}`,
      `--workspace-selector=${options.workspaceSelector}`,
      `--workers=${options.workers}`,
      `--resync=${options.resync}`,
      `--log-level=${options.logLevel ?? "info"}`,
    ];
    // The compiled runtime stands for the deployed operator: the same V8 settings as deploy/deployment.yaml.
    const nodeOptions = options.runtime === "compiled" ? deployedNodeOptions() : process.env.NODE_OPTIONS;
    return new BenchOperator(
      {
        args,
        runtime: options.runtime,
        nodeArgs: [
          ...(options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`] : []),
          ...(options.heapSnapshotDir
            ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${options.heapSnapshotDir}`]
            : []),
        ],
        logFile: options.logFile,
        env: { LOG_FORMAT: "json", NODE_OPTIONS: nodeOptions ?? "" },
      },
      `http://127.0.0.1:${metricsPort}/metrics`,
      `http://127.0.0.1:${healthPort}/readyz`,
    );
  }

  get startedAt(): number {
    return this.spawnedAt;
  }

  override get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Resolves once /readyz answers 200 (informer caches synced, controllers started). */
  async waitReady(timeoutMs = 120_000): Promise<number> {
    const ready = await pollUntil(
      async () => {
        if (!this.running) throw new Error(`the operator exited with ${this.exit?.code}:\n${this.tail(40)}`);
        try {
          return (await fetch(this.readyUrl)).status === 200 ? Date.now() : undefined;
        } catch {
          return undefined;
        }
      },
      timeoutMs,
      50,
    );
    if (ready === undefined) throw new Error(`the operator was not ready within ${timeoutMs} ms:\n${this.tail(40)}`);
    return ready;
  }

  /** Asks for a heap snapshot (SIGUSR2) and waits until its file stops growing; returns its path. */
  async writeHeapSnapshot(dir: string, timeoutMs = 120_000): Promise<string | undefined> {
    mkdirSync(dir, { recursive: true });
    const before = new Set(readdirSync(dir));
    this.child.kill("SIGUSR2");
    let last = -1;
    return pollUntil(
      () => {
        const file = readdirSync(dir).find((f) => f.endsWith(".heapsnapshot") && !before.has(f));
        if (!file) return undefined;
        const size = statSync(join(dir, file)).size;
        const done = size > 0 && size === last;
        last = size;
        return done ? join(dir, file) : undefined;
      },
      timeoutMs,
      1000,
    );
  }

  async metrics(): Promise<Sample[]> {
    const res = await fetch(this.metricsUrl);
    if (!res.ok) throw new Error(`${this.metricsUrl} answered ${res.status}`);
    return parseMetrics(await res.text());
  }
}

/** NODE_OPTIONS of the operator container in deploy/deployment.yaml. */
export function deployedNodeOptions(): string | undefined {
  const manifest = parse(readFileSync(join(REPO, "deploy", "deployment.yaml"), "utf8")) as {
    spec?: { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } };
  };
  return manifest.spec?.template?.spec?.containers?.[0]?.env?.find((e) => e.name === "NODE_OPTIONS")?.value;
}
