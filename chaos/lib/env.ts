import { randomBytes } from "node:crypto";
import { stringify } from "yaml";
import {
  GROUP,
  VERSION,
  type AlphaSender,
  type BirdWorkspace,
  type PhoneNumber,
} from "../../src/api/v1alpha1/index.js";
import type { ControlPlane } from "../../src/control-plane/control-plane.js";
import { startSimulator, type RunningSimulator, type SimulatorOptions } from "../../src/simulator/index.js";
import { fixtureDocs, workspaceDoc, type Doc, type Fixture as BaseFixture } from "../../test/support/fixtures.js";
import { kubectl, type KubectlOptions, type KubectlResult } from "../../test/support/kubectl.js";
import { OperatorProcess } from "../../test/support/operator-process.js";

export { ORGANIZATION_ID, WORKSPACE_ID, type Doc } from "../../test/support/fixtures.js";
export const API_VERSION = `${GROUP}/${VERSION}`;

export interface Fixture extends BaseFixture {
  accessKey: string;
}

export interface OperatorOptions {
  leaderElection?: { leaseName: string; leaseDuration: string; renewDeadline: string; retryPeriod: string };
  logLevel?: string;
  extraArgs?: string[];
}

/**
 * What every scenario shares: the control plane, kubectl as a user, uniquely named fixtures, simulators and operator
 * processes. It remembers every AccessKey it handed out and every process it started, so the campaign can scan all
 * of their output for secrets and report any crash at the end.
 */
export class ChaosEnv {
  readonly processes: OperatorProcess[] = [];
  readonly accessKeys = new Set<string>();
  private readonly simulators: RunningSimulator[] = [];
  private sequence = 0;

  constructor(
    readonly plane: ControlPlane,
    readonly short: boolean,
    readonly log: (line: string) => void,
  ) {}

  get kubeconfigPath(): string {
    return this.plane.kubeconfigPath;
  }

  kubectl(args: string[], options?: KubectlOptions): Promise<KubectlResult> {
    return kubectl(this.kubeconfigPath, args, { timeoutMs: 120_000, ...options });
  }

  async apply(...docs: Doc[]): Promise<KubectlResult> {
    return this.kubectl(["apply", "-f", "-"], { input: docs.map((d) => stringify(d)).join("---\n") });
  }

  async getJson<T>(args: string[]): Promise<T> {
    const { stdout } = await this.kubectl(["get", ...args, "-o", "json"]);
    return JSON.parse(stdout) as T;
  }

  async list<T>(plural: string, namespace: string): Promise<T[]> {
    return (await this.getJson<{ items: T[] }>([plural, "-n", namespace])).items;
  }

  phoneNumbers(namespace: string): Promise<PhoneNumber[]> {
    return this.list<PhoneNumber>("phonenumbers", namespace);
  }

  alphaSenders(namespace: string): Promise<AlphaSender[]> {
    return this.list<AlphaSender>("alphasenders", namespace);
  }

  async workspace(name: string): Promise<BirdWorkspace> {
    return this.getJson<BirdWorkspace>(["birdworkspace", name]);
  }

  /** A fresh random AccessKey, remembered for the secret scan. */
  newAccessKey(): string {
    const key = `bak_${randomBytes(18).toString("hex")}`;
    this.accessKeys.add(key);
    return key;
  }

  uniqueName(prefix: string): string {
    return `${prefix}-${++this.sequence}-${randomBytes(3).toString("hex")}`;
  }

  async simulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
    const accessKey = options.accessKey ?? this.newAccessKey();
    this.accessKeys.add(accessKey);
    const sim = await startSimulator({
      port: 0,
      validateResponses: true,
      provisioningDelayMs: 100,
      callLogSize: 200_000,
      ...options,
      accessKey,
    });
    this.simulators.push(sim);
    return sim;
  }

  /**
   * A namespace (also the operator's namespace) with the AccessKey Secret,
   * and a BirdWorkspace labelled for one operator.
   */
  async fixture(endpoint: string, accessKey: string, workspaceSpec: Doc = {}): Promise<Fixture> {
    const namespace = this.uniqueName("chaos");
    const label: [string, string] = ["bird-chaos", namespace];
    const { fixture, docs } = fixtureDocs({
      namespace,
      workspace: this.uniqueName("ws"),
      endpoint,
      accessKey,
      label,
      workspaceSpec: chaosWorkspaceSpec(namespace, workspaceSpec),
    });
    await this.apply(...docs);
    return { ...fixture, accessKey };
  }

  /** Another workspace of a fixture's namespace, seen by the same operator. */
  workspaceDoc(name: string, namespace: string, endpoint: string, spec: Doc = {}): Doc {
    return workspaceDoc({
      name,
      namespace,
      endpoint,
      labels: { "bird-chaos": namespace },
      spec: chaosWorkspaceSpec(namespace, spec),
    });
  }

  phoneNumber(fixture: Fixture, name: string, spec: Doc): Doc {
    return {
      apiVersion: API_VERSION,
      kind: "PhoneNumber",
      metadata: { name, namespace: fixture.namespace },
      spec: { workspaceRef: { name: fixture.workspace }, ...spec },
    };
  }

  alphaSender(fixture: Fixture, name: string, spec: Doc): Doc {
    return {
      apiVersion: API_VERSION,
      kind: "AlphaSender",
      metadata: { name, namespace: fixture.namespace },
      spec: { workspaceRef: { name: fixture.workspace }, ...spec },
    };
  }

  /** One operator process serving exactly this fixture. */
  operator(fixture: Fixture, options: OperatorOptions = {}): OperatorProcess {
    const election = options.leaderElection;
    const args = [
      `--kubeconfig=${this.kubeconfigPath}`,
      `--namespaces=${fixture.namespace}`,
      `--operator-namespace=${fixture.namespace}`,
      `--workspace-selector=${fixture.selector}`,
      "--purchase-grace=3s",
      "--bird-timeout=3s",
      "--resync=30s",
      "--shutdown-deadline=3s",
      ...(election
        ? [
            `--lease-name=${election.leaseName}`,
            `--lease-duration=${election.leaseDuration}`,
            `--renew-deadline=${election.renewDeadline}`,
            `--retry-period=${election.retryPeriod}`,
          ]
        : ["--no-leader-elect"]),
      ...(options.extraArgs ?? []),
    ];
    const process = new OperatorProcess({
      name: `${fixture.namespace}#${this.processes.length}`,
      args: [...args, `--log-level=${options.logLevel ?? "info"}`],
      env: { LOG_FORMAT: "json" },
    });
    this.processes.push(process);
    return process;
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.kill("SIGKILL")));
    await Promise.all(this.simulators.map((s) => s.close()));
  }
}

function chaosWorkspaceSpec(namespace: string, spec: Doc): Doc {
  // The scenarios judge cancellations: deleting a resource releases its number unless it says Retain.
  return { allowedNamespaces: { names: [namespace] }, defaultDeletionPolicy: "Delete", ...spec };
}

/** A loopback port nothing listens on (taken and released at once): an endpoint that refuses connections. */
export async function freePortUnused(): Promise<number> {
  const { freePort } = await import("../../src/control-plane/processes.js");
  return freePort();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `probe` returns a value; undefined on timeout (the caller reports what was not reached). */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 500,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch {
      // A failed probe (e.g. kubectl during an API server restart) is retried until the deadline.
    }
    if (Date.now() >= deadline) return undefined;
    await sleep(intervalMs);
  }
}
