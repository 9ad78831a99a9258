/** Everything `bird-operator run` can be told, from flags and environment, validated once and frozen. */
export interface Config {
  /** Path to a kubeconfig; unset = KUBECONFIG, then in-cluster, then ~/.kube/config (see loadKubeConnection). */
  kubeconfig?: string;
  /** Namespaces whose PhoneNumbers and AlphaSenders are watched; empty = all. */
  namespaces: string[];
  /** Label selector for the BirdWorkspaces this operator serves (several installs can split a cluster); empty = all. */
  workspaceSelector?: string;
  /** The operator's own namespace: AccessKey Secrets and the leader Lease live here. */
  operatorNamespace: string;
  workers: number;
  resyncMs: number;
  leaderElection: {
    enabled: boolean;
    leaseName: string;
    leaseNamespace: string;
    identity: string;
    leaseDurationMs: number;
    renewDeadlineMs: number;
    retryPeriodMs: number;
  };
  metricsAddress: string;
  healthAddress: string;
  logLevel: string;
  logFormat: "json" | "pretty";
  /** How long an unresolved purchase intent waits before it is considered never to have reached Bird. */
  purchaseGraceMs: number;
  /** Per-attempt timeout of Bird requests. */
  birdTimeoutMs: number;
  shutdownDeadlineMs: number;
}

/** `90s`, `10m`, `1h`, `500ms` or a plain number of seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`invalid duration "${text}": use e.g. 500ms, 30s, 10m or 1h`);
  const value = Number(match[1]);
  const unit = match[2] ?? "s";
  return Math.round(value * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as "ms" | "s" | "m" | "h"]);
}

export function parsePositiveInt(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${text}"`);
  return value;
}

export function parseList(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export function freezeConfig(config: Config): Readonly<Config> {
  if (!["json", "pretty"].includes(config.logFormat))
    throw new Error(`--log-format must be json or pretty, got "${config.logFormat}"`);
  if (config.leaderElection.renewDeadlineMs >= config.leaderElection.leaseDurationMs) {
    throw new Error("the lease renew deadline must be shorter than the lease duration");
  }
  return Object.freeze({
    ...config,
    namespaces: Object.freeze([...config.namespaces]) as string[],
    leaderElection: Object.freeze({ ...config.leaderElection }),
  });
}
