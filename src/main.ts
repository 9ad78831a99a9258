import type { Config } from "./config.js";
import { createLogger } from "./log.js";
import { createOperator } from "./operator.js";
import { loadKubeConnection } from "./runtime/kube-config.js";
import { Metrics } from "./runtime/metrics.js";

/** Wiring only: config → logger → clients → manager.start() → wait for a signal or a lost lease. */
export async function main(config: Readonly<Config>): Promise<void> {
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, name: "bird-operator" });
  const kubeConfig = await loadKubeConnection({ path: config.kubeconfig, logger });
  logger.debug({ server: kubeConfig.server, source: kubeConfig.source }, "Connecting to the API server");
  const manager = createOperator({ config, kubeConfig, logger, metrics: new Metrics({ defaultMetrics: true }) });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "Shutting down");
    manager.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "Shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  try {
    await manager.start();
  } catch (error) {
    logger.fatal({ err: error }, "Cannot start");
    process.exit(1);
  }
  void manager.lostLeadership.then(() => {
    logger.error("Leadership lost; exiting so that a fresh process rejoins the election");
    process.exit(1);
  });
}
