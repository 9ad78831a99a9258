import type { Logger } from "../log.js";
import type { Controller } from "./controller.js";
import { HealthServer } from "./health.js";
import type { Informer } from "./informer.js";
import type { KubeSource } from "./kube-config.js";
import { LeaderElector } from "./leader.js";
import type { Metrics } from "./metrics.js";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface ManagerOptions {
  kubeConfig: KubeSource;
  logger: Logger;
  metrics: Metrics;
  leaderElection?: LeaderElectionOptions;
  metricsAddress: string;
  healthAddress: string;
  shutdownDeadlineMs: number;
}

/** Beyond this, a cache that has not synced fails the start (the process exits and is restarted). */
const CACHE_SYNC_TIMEOUT_MS = 120_000;

/**
 * Runs informers always (a standby replica keeps warm caches, so it takes over fast) and controllers only while it
 * leads. Losing the lease stops reconciling at once and resolves `lostLeadership`, after which the process exits
 * and is restarted, as controller-runtime does.
 */
export class Manager {
  private readonly informers: Pick<Informer<never>, "start" | "stop" | "hasSynced" | "waitForSync">[] = [];
  private readonly controllers: Controller[] = [];
  private readonly health: HealthServer;
  private elector?: LeaderElector;
  private running = false;
  /** Holds the lease (or runs without election); controllers start once the caches are synced too. */
  private leading = false;
  private readonly leadingHooks: (() => void)[] = [];
  private readonly stopHooks: (() => Promise<void>)[] = [];
  private resolveLost: () => void = () => undefined;
  readonly lostLeadership = new Promise<void>((resolve) => (this.resolveLost = resolve));
  addresses?: { metrics: string; health: string };

  constructor(private readonly options: ManagerOptions) {
    this.health = new HealthServer(options.metrics, {
      healthy: () => true,
      ready: () => this.informers.every((informer) => informer.hasSynced()),
    });
  }

  addInformer(informer: Pick<Informer<never>, "start" | "stop" | "hasSynced" | "waitForSync">): void {
    this.informers.push(informer);
  }

  addController(controller: Controller): void {
    this.controllers.push(controller);
  }

  /** Work to finish after the controllers stopped (e.g. flushing pending Events). */
  onStop(hook: () => Promise<void>): void {
    this.stopHooks.push(hook);
  }

  isLeading(): boolean {
    return this.running;
  }

  /**
   * Whether this process may make an irreversible outside write now: its controllers run and, with leader election,
   * its lease was renewed within the renew deadline (see LeaderElector.holdsFreshLease).
   */
  mayAct(): boolean {
    return this.running && (this.elector === undefined || this.elector.holdsFreshLease());
  }

  /**
   * Work a leader may start before the caches are synced, to have it done by the time the controllers start (e.g.
   * listing a big Bird workspace, which is 50 s of round trips for 100,000 numbers). Runs once this process leads.
   */
  onLeading(hook: () => void): void {
    this.leadingHooks.push(hook);
  }

  /**
   * Serves probes, starts the informers and, at the same time, leader election: a leader runs its warm-up hooks at
   * once and its controllers once every cache is synced. Resolves when the caches are synced.
   */
  async start(): Promise<void> {
    const { logger } = this.options;
    this.addresses = await this.health.listen({
      metrics: this.options.metricsAddress,
      health: this.options.healthAddress,
    });
    logger.info(this.addresses, "Serving metrics and health probes");
    for (const informer of this.informers) informer.start();
    const synced = Promise.all(this.informers.map((informer) => informer.waitForSync(CACHE_SYNC_TIMEOUT_MS))).then(() =>
      logger.info({ informers: this.informers.length }, "Caches synced"),
    );
    const election = this.options.leaderElection;
    if (!election) {
      this.lead(synced);
      await synced;
      return;
    }
    this.elector = new LeaderElector({
      kubeConfig: this.options.kubeConfig,
      ...election,
      logger,
      metrics: this.options.metrics,
      onStartedLeading: () => this.lead(synced),
      onStoppedLeading: () => {
        this.leading = false;
        if (!this.running) return;
        logger.warn("Lost the leader lease; stopping reconciliation");
        void this.stopControllers(0).finally(() => this.resolveLost());
      },
    });
    void this.elector.run();
    try {
      await synced;
    } catch (error) {
      // Caches that never synced: give the lease back at once (the process exits), not after it expires.
      await this.elector.stop({ release: true }).catch(() => undefined);
      throw error;
    }
  }

  private lead(synced: Promise<void>): void {
    this.leading = true;
    for (const hook of this.leadingHooks.splice(0)) {
      try {
        hook();
      } catch (error) {
        this.options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, "Warm-up failed");
      }
    }
    // Failing to sync is start()'s to report; a lease lost meanwhile starts nothing.
    synced.then(
      () => {
        if (this.leading) this.startControllers();
      },
      () => undefined,
    );
  }

  /** Graceful: finish in-flight reconciles within the deadline, release the lease, stop watching. */
  async stop(): Promise<void> {
    await this.stopControllers(this.options.shutdownDeadlineMs);
    for (const hook of this.stopHooks) await hook().catch(() => undefined);
    await this.elector?.stop({ release: true });
    await Promise.all(this.informers.map((informer) => informer.stop()));
    await this.health.close();
  }

  private startControllers(): void {
    if (this.running) return;
    this.running = true;
    this.options.logger.info({ controllers: this.controllers.map((c) => c.name) }, "Starting controllers");
    for (const controller of this.controllers) controller.start();
  }

  private async stopControllers(deadlineMs: number): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await Promise.all(this.controllers.map((controller) => controller.stop(deadlineMs)));
  }
}
