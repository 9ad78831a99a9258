import type { Config } from "../../src/config.js";
import { freezeConfig } from "../../src/config.js";
import { createLogger, type Logger } from "../../src/log.js";
import { createOperator } from "../../src/operator.js";
import { loadKubeConnection } from "../../src/runtime/kube-config.js";
import type { Manager } from "../../src/runtime/manager.js";
import { Metrics } from "../../src/runtime/metrics.js";

export interface TestOperator {
  manager: Manager;
  metrics: Metrics;
  logger: Logger;
  stop(): Promise<void>;
}

/**
 * The operator in-process against the test cluster, limited to one namespace and the workspaces labelled for this
 * test so that test files never reconcile each other's objects.
 */
export async function startTestOperator(options: {
  kubeconfigPath: string;
  namespace: string;
  workspaceSelector: string;
  overrides?: Partial<Config>;
  fetch?: typeof fetch;
}): Promise<TestOperator> {
  const kubeConfig = await loadKubeConnection({ path: options.kubeconfigPath });
  const config = freezeConfig({
    namespaces: [options.namespace],
    workspaceSelector: options.workspaceSelector,
    operatorNamespace: options.namespace,
    workers: 4,
    resyncMs: 60_000,
    leaderElection: {
      enabled: false,
      leaseName: "bird-operator",
      leaseNamespace: options.namespace,
      identity: "test",
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    },
    metricsAddress: "127.0.0.1:0",
    healthAddress: "127.0.0.1:0",
    logLevel: process.env.TEST_LOG_LEVEL ?? "silent",
    logFormat: "json",
    purchaseGraceMs: 5_000,
    birdTimeoutMs: 5_000,
    shutdownDeadlineMs: 5_000,
    ...options.overrides,
  });
  const logger = createLogger({ level: config.logLevel, name: "bird-operator" });
  const metrics = new Metrics();
  const manager = createOperator({ config, kubeConfig, logger, metrics, fetch: options.fetch });
  await manager.start();
  return { manager, metrics, logger, stop: () => manager.stop() };
}
