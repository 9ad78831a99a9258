import { generateKeyPairSync, randomBytes } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { resolveBinaries, type ControlPlaneBinaries } from "./binaries.js";
import { startControllerManager } from "./controller-manager.js";
import { installCrds } from "./install-crds.js";
import { freePort, startProcess, stopProcess, waitUntil } from "./processes.js";

export interface ControlPlaneOptions {
  /** Directory of CRD manifests to install once the API server is up; none when unset. */
  crdDir?: string;
  binaries?: ControlPlaneBinaries;
  /**
   * Also run kube-controller-manager (namespace, garbage collector and ClusterRole aggregation controllers): without
   * it namespaces never finish deleting and the built-in edit/admin/view roles stay empty.
   */
  controllerManager?: boolean;
  /**
   * Have kube-apiserver write an audit log of every request (level Metadata: who, verb, URI, status) to `auditLogPath`,
   * for tests that prove who wrote what.
   */
  audit?: boolean;
  onProgress?: (line: string) => void;
}

/**
 * etcd + kube-apiserver on loopback, with random ports and a temporary directory, as controller-runtime's envtest
 * runs them, and kube-controller-manager when asked for (else no garbage collection, no namespace deletion).
 */
export class ControlPlane {
  readonly dir = mkdtempSync(join(tmpdir(), "bird-operator-cp-"));
  readonly kubeconfigPath = join(this.dir, "kubeconfig");
  readonly adminToken = randomBytes(24).toString("hex");
  /** One JSON audit event per line, when started with `audit`. */
  readonly auditLogPath = join(this.dir, "audit.log");
  private audit = false;
  private etcd?: ChildProcess;
  private apiserver?: ChildProcess;
  private controllerManager?: ChildProcess;
  private etcdPort = 0;
  private peerPort = 0;
  private securePort = 0;

  private constructor(private readonly binaries: ControlPlaneBinaries) {}

  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const binaries = options.binaries ?? (await resolveBinaries(options.onProgress));
    const plane = new ControlPlane(binaries);
    plane.audit = options.audit ?? false;
    try {
      [plane.etcdPort, plane.peerPort, plane.securePort] = [await freePort(), await freePort(), await freePort()];
      plane.writeCredentials();
      await plane.startEtcd();
      await plane.startApiServer();
      if (options.controllerManager) await plane.startControllerManager();
      if (options.crdDir) await installCrds(plane.kubeConfig(), options.crdDir);
      return plane;
    } catch (error) {
      await plane.stop();
      throw error;
    }
  }

  get server(): string {
    return `https://127.0.0.1:${this.securePort}`;
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  /**
   * Stops only the API server, keeping etcd and its data: for tests of watches surviving an outage. `crash` kills it
   * at once (SIGKILL) instead of waiting for a graceful stop, which open watches can hold up for its full deadline.
   */
  async stopApiServer(options: { crash?: boolean } = {}): Promise<void> {
    if (this.apiserver) await stopProcess(this.apiserver, options.crash ? 0 : undefined);
    this.apiserver = undefined;
  }

  async startApiServer(): Promise<void> {
    const args = [
      `--etcd-servers=http://127.0.0.1:${this.etcdPort}`,
      `--cert-dir=${join(this.dir, "certs")}`,
      `--secure-port=${this.securePort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      "--authorization-mode=RBAC",
      "--disable-admission-plugins=ServiceAccount",
      `--service-account-issuer=https://127.0.0.1:${this.securePort}/`,
      `--service-account-key-file=${join(this.dir, "sa.pub")}`,
      `--service-account-signing-key-file=${join(this.dir, "sa.key")}`,
      `--token-auth-file=${join(this.dir, "tokens.csv")}`,
      "--enable-priority-and-fairness=false",
      "--event-ttl=1h",
      ...(this.audit
        ? [
            `--audit-policy-file=${join(this.dir, "audit-policy.yaml")}`,
            `--audit-log-path=${this.auditLogPath}`,
            "--audit-log-mode=blocking",
          ]
        : []),
    ];
    const logFile = join(this.dir, "kube-apiserver.log");
    const child = startProcess(this.binaries.kubeApiserver, args, logFile);
    this.apiserver = child;
    await waitUntil("kube-apiserver", async () => (await this.get("/readyz")) === 200, {
      timeoutMs: 60_000,
      child,
      logTail: () => tail(logFile),
    });
    await waitUntil("the default namespace", async () => (await this.get("/api/v1/namespaces/default")) === 200, {
      timeoutMs: 30_000,
      child,
      logTail: () => tail(logFile),
    });
    this.writeKubeconfig();
  }

  async stop(): Promise<void> {
    if (this.controllerManager) await stopProcess(this.controllerManager);
    this.controllerManager = undefined;
    await this.stopApiServer();
    if (this.etcd) await stopProcess(this.etcd);
    this.etcd = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The CPU seconds kube-controller-manager has used so far, for reporting what it costs a test run (Linux only). */
  controllerManagerCpuSeconds(): number | undefined {
    const pid = this.controllerManager?.pid;
    if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return undefined;
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    // utime and stime, the 14th and 15th fields of stat (12th and 13th after the command), in clock ticks of 1/100 s.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }

  private async startControllerManager(): Promise<void> {
    this.controllerManager = await startControllerManager({
      binary: this.binaries.kubeControllerManager,
      kubeconfigPath: this.kubeconfigPath,
      dir: this.dir,
      kubeConfig: this.kubeConfig(),
    });
  }

  private async startEtcd(): Promise<void> {
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const client = `http://127.0.0.1:${this.etcdPort}`;
    const args = [
      "--name=default",
      `--data-dir=${join(this.dir, "etcd")}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ];
    const logFile = join(this.dir, "etcd.log");
    const child = startProcess(this.binaries.etcd, args, logFile);
    this.etcd = child;
    await waitUntil("etcd", async () => (await fetch(`${client}/health`)).status === 200, {
      timeoutMs: 20_000,
      child,
      logTail: () => tail(logFile),
    });
  }

  private writeCredentials(): void {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(join(this.dir, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
    writeFileSync(join(this.dir, "sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    writeFileSync(join(this.dir, "tokens.csv"), `${this.adminToken},admin,admin-uid,"system:masters"\n`, {
      mode: 0o600,
    });
    const policy = {
      apiVersion: "audit.k8s.io/v1",
      kind: "Policy",
      omitStages: ["RequestReceived"],
      rules: [{ level: "Metadata" }],
    };
    writeFileSync(join(this.dir, "audit-policy.yaml"), JSON.stringify(policy));
  }

  /**
   * The serving certificate kube-apiserver generated in cert-dir carries its own CA: trust it instead of skipping TLS.
   */
  private writeKubeconfig(): void {
    const certFile = join(this.dir, "certs", "apiserver.crt");
    const cluster = existsSync(certFile)
      ? { server: this.server, "certificate-authority-data": readFileSync(certFile).toString("base64") }
      : { server: this.server, "insecure-skip-tls-verify": true };
    const kubeconfig = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "bird-operator-test", cluster }],
      users: [{ name: "admin", user: { token: this.adminToken } }],
      contexts: [
        { name: "bird-operator-test", context: { cluster: "bird-operator-test", user: "admin", namespace: "default" } },
      ],
      "current-context": "bird-operator-test",
    };
    writeFileSync(this.kubeconfigPath, JSON.stringify(kubeconfig, null, 2), { mode: 0o600 });
  }

  private get(path: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        `${this.server}${path}`,
        { rejectUnauthorized: false, headers: { Authorization: `Bearer ${this.adminToken}` }, timeout: 2000 },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end();
    });
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-30).join("\n");
  } catch {
    return "";
  }
}
