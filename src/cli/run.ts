import { hostname } from "node:os";
import type { Command } from "commander";
import { freezeConfig, parseDuration, parseList, parsePositiveInt, type Config } from "../config.js";
import { main } from "../main.js";

interface RunFlags {
  kubeconfig?: string;
  namespaces?: string;
  workspaceSelector?: string;
  operatorNamespace: string;
  workers: string;
  resync: string;
  leaderElect: boolean;
  leaseName: string;
  leaseNamespace?: string;
  leaseDuration: string;
  renewDeadline: string;
  retryPeriod: string;
  metricsAddress: string;
  healthAddress: string;
  logLevel: string;
  logFormat: string;
  purchaseGrace: string;
  birdTimeout: string;
  shutdownDeadline: string;
}

const env = process.env;

export function registerRunCommand(program: Command): void {
  const command = program
    .command("run")
    .description("run the operator: watch BirdWorkspaces, PhoneNumbers and AlphaSenders and reconcile them with Bird");
  declareScopeOptions(command);
  declareLeaderElectionOptions(command);
  declareRuntimeOptions(command);
  command.action(async (flags: RunFlags) => {
    await main(configFromFlags(flags));
  });
}

/** What the operator watches and where it runs. */
function declareScopeOptions(command: Command): void {
  command
    .option(
      "--kubeconfig <file>",
      "kubeconfig to use (default: the files in KUBECONFIG, then in-cluster, then ~/.kube/config)",
    )
    .option(
      "--namespaces <list>",
      "comma-separated namespaces to watch for PhoneNumbers and AlphaSenders (env WATCH_NAMESPACES; default: all)",
      env.WATCH_NAMESPACES,
    )
    .option(
      "--workspace-selector <selector>",
      "label selector of the BirdWorkspaces this instance serves (env WORKSPACE_SELECTOR; default: all)",
      env.WORKSPACE_SELECTOR,
    )
    .option(
      "--operator-namespace <ns>",
      "the operator's namespace: AccessKey Secrets are read only here (env POD_NAMESPACE)",
      env.POD_NAMESPACE ?? "bird-operator",
    )
    .option("--workers <n>", "concurrent reconciles per controller (env WORKERS)", env.WORKERS ?? "32")
    .option(
      "--resync <duration>",
      "re-check every resource against Bird this often, jittered +/-10% (env RESYNC_INTERVAL)",
      env.RESYNC_INTERVAL ?? "10m",
    );
}

function declareLeaderElectionOptions(command: Command): void {
  command
    .option("--no-leader-elect", "disable leader election (only for a single replica)")
    .option("--lease-name <name>", "name of the leader-election Lease", env.LEASE_NAME ?? "bird-operator")
    .option("--lease-namespace <ns>", "namespace of the Lease (default: the operator namespace)", env.LEASE_NAMESPACE)
    .option("--lease-duration <duration>", "how long a lease is valid without renewal", "15s")
    .option("--renew-deadline <duration>", "the leader gives up leading when it cannot renew within this", "10s")
    .option("--retry-period <duration>", "how often to try to acquire or renew the lease", "2s");
}

/** Serving, logging and timing. */
function declareRuntimeOptions(command: Command): void {
  command
    .option(
      "--metrics-address <host:port>",
      "where /metrics is served (env METRICS_ADDRESS)",
      env.METRICS_ADDRESS ?? ":8080",
    )
    .option(
      "--health-address <host:port>",
      "where /healthz and /readyz are served (env HEALTH_ADDRESS)",
      env.HEALTH_ADDRESS ?? ":8081",
    )
    .option("--log-level <level>", "trace, debug, info, warn, error (env LOG_LEVEL)", env.LOG_LEVEL ?? "info")
    .option("--log-format <format>", "json (default) or pretty, for humans (env LOG_FORMAT)", env.LOG_FORMAT ?? "json")
    .option(
      "--purchase-grace <duration>",
      "how long an interrupted purchase is looked for in Bird before it is retried",
      env.PURCHASE_GRACE ?? "5m",
    )
    .option("--bird-timeout <duration>", "timeout of one Bird request attempt", env.BIRD_TIMEOUT ?? "10s")
    .option("--shutdown-deadline <duration>", "how long in-flight reconciles may finish on SIGTERM", "20s");
}

export function configFromFlags(flags: RunFlags): Readonly<Config> {
  const operatorNamespace = flags.operatorNamespace;
  return freezeConfig({
    kubeconfig: flags.kubeconfig,
    namespaces: parseList(flags.namespaces),
    workspaceSelector: flags.workspaceSelector,
    operatorNamespace,
    workers: parsePositiveInt("--workers", flags.workers),
    resyncMs: parseDuration(flags.resync),
    leaderElection: {
      enabled: flags.leaderElect,
      leaseName: flags.leaseName,
      leaseNamespace: flags.leaseNamespace ?? operatorNamespace,
      identity: `${hostname()}_${process.pid}`,
      leaseDurationMs: parseDuration(flags.leaseDuration),
      renewDeadlineMs: parseDuration(flags.renewDeadline),
      retryPeriodMs: parseDuration(flags.retryPeriod),
    },
    metricsAddress: flags.metricsAddress,
    healthAddress: flags.healthAddress,
    logLevel: flags.logLevel,
    logFormat: flags.logFormat as Config["logFormat"],
    purchaseGraceMs: parseDuration(flags.purchaseGrace),
    birdTimeoutMs: parseDuration(flags.birdTimeout),
    shutdownDeadlineMs: parseDuration(flags.shutdownDeadline),
  });
}
