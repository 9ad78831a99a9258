import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * The operator's Prometheus metrics, named as controller-runtime names them so existing dashboards work, plus the
 * Bird API's own. One instance per process; each test builds its own to stay isolated.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: "controller_runtime_reconcile_total",
    help: "Total number of reconciliations per controller and result (success, error, requeue, requeue_after)",
    labelNames: ["controller", "result"] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: "controller_runtime_reconcile_errors_total",
    help: "Total number of reconciliation errors per controller",
    labelNames: ["controller"] as const,
    registers: [this.registry],
  });
  readonly reconcileTime = new Histogram({
    name: "controller_runtime_reconcile_time_seconds",
    help: "Length of time per reconciliation per controller",
    labelNames: ["controller"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly workqueueDepth = new Gauge({
    name: "workqueue_depth",
    help: "Current depth of the work queue",
    labelNames: ["name"] as const,
    registers: [this.registry],
    // Read from the queue at the scrape: set at every add and take, it cost two label lookups a reconcile.
    collect: () => this.collectQueues(),
  });
  readonly workqueueAdds = new Counter({
    name: "workqueue_adds_total",
    help: "Total number of adds handled by the work queue",
    labelNames: ["name"] as const,
    registers: [this.registry],
  });
  readonly workqueueRetries = new Counter({
    name: "workqueue_retries_total",
    help: "Total number of retries handled by the work queue",
    labelNames: ["name"] as const,
    registers: [this.registry],
  });
  readonly workqueueQueueDuration = new Histogram({
    name: "workqueue_queue_duration_seconds",
    help: "How long in seconds an item stays in the work queue before being requested",
    labelNames: ["name"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 10, 60],
    registers: [this.registry],
  });
  readonly workqueueWorkDuration = new Histogram({
    name: "workqueue_work_duration_seconds",
    help: "How long in seconds processing an item from the work queue takes",
    labelNames: ["name"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 10, 60],
    registers: [this.registry],
  });
  readonly workqueueUnfinishedWork = new Gauge({
    name: "workqueue_unfinished_work_seconds",
    help:
      "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. " +
      "Large values indicate stuck threads.",
    labelNames: ["name"] as const,
    registers: [this.registry],
    collect: () => this.collectQueues(),
  });
  readonly workqueueLongestRunning = new Gauge({
    name: "workqueue_longest_running_processor_seconds",
    help: "How many seconds has the longest running processor for workqueue been running.",
    labelNames: ["name"] as const,
    registers: [this.registry],
    collect: () => this.collectQueues(),
  });
  readonly birdRequests = new Counter({
    name: "bird_api_requests_total",
    help: "Bird API requests (every attempt) by method, route template and status code",
    labelNames: ["method", "route", "code"] as const,
    registers: [this.registry],
  });
  readonly birdRequestDuration = new Histogram({
    name: "bird_api_request_duration_seconds",
    help: "Bird API request latency by method and route template",
    labelNames: ["method", "route"] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly birdRateLimiterWait = new Histogram({
    name: "bird_rate_limiter_wait_seconds",
    help: "Time spent waiting for the per-workspace Bird rate limiter",
    labelNames: ["method"] as const,
    buckets: [0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly birdErrors = new Counter({
    name: "bird_api_errors_total",
    help:
      "Failed Bird API attempts by class: rate_limited (429), server_error (5xx), unauthorized (401, 403), " +
      "not_found (404), client_error (other 4xx), network (no answer or timeout)",
    labelNames: ["class"] as const,
    registers: [this.registry],
  });
  readonly purchases = new Counter({
    name: "bird_operator_purchases_total",
    help:
      "Purchases confirmed by Bird: numbers bought (kind PhoneNumber) and sender countries activated " +
      "(kind AlphaSender)",
    labelNames: ["workspace", "kind"] as const,
    registers: [this.registry],
  });
  readonly cancellations = new Counter({
    name: "bird_operator_cancellations_total",
    help:
      "Subscriptions the operator cancelled: numbers' main subscriptions (kind PhoneNumber) and sender countries' " +
      "(kind AlphaSender)",
    labelNames: ["workspace", "kind"] as const,
    registers: [this.registry],
  });
  readonly purchasesRefused = new Counter({
    name: "bird_operator_purchases_refused_total",
    help:
      "Purchase attempts refused, by the condition reason shown on the resource (QuotaExceeded, PolicyViolation, " +
      "PriceAboveLimit, NumberUnavailable, CannotPurchase); a resource still refused counts again at each retry",
    labelNames: ["workspace", "kind", "reason"] as const,
    registers: [this.registry],
  });
  /**
   * One series per resource and condition type (Ready, Synced),
   * value 1; exported by the leader only (see resource-metrics.ts).
   */
  readonly resourceCondition = new Gauge({
    name: "bird_operator_resource_condition",
    help:
      "The status and reason of the Ready and Synced conditions (value 1) of each resource whose Ready or Synced is " +
      "not True; exported by the leader only",
    labelNames: ["kind", "namespace", "name", "condition", "status", "reason"] as const,
    registers: [this.registry],
    collect: () => this.refreshView("resources"),
  });
  readonly resources = new Gauge({
    name: "bird_operator_resources",
    help:
      "Resources by kind and by the status and reason of their Ready and Synced conditions; " +
      "exported by the leader only",
    labelNames: ["kind", "condition", "status", "reason"] as const,
    registers: [this.registry],
    collect: () => this.refreshView("resources"),
  });
  readonly workspaceMonthlySpend = this.workspaceGauge(
    "bird_operator_workspace_monthly_spend",
    "Monthly price of everything the workspace pays for or is buying, as its spend policy counts it, by currency",
    ["workspace", "currency"],
  );
  readonly workspaceSpendLimit = this.workspaceGauge(
    "bird_operator_workspace_monthly_spend_limit",
    "The workspace's spec.policy.maxMonthlySpend, when set",
    ["workspace", "currency"],
  );
  readonly workspaceSpendHeadroom = this.workspaceGauge(
    "bird_operator_workspace_monthly_spend_headroom",
    "What is left of spec.policy.maxMonthlySpend (negative when over it), when set",
    ["workspace", "currency"],
  );
  readonly workspaceNumbers = this.workspaceGauge(
    "bird_operator_workspace_numbers",
    "BirdNumber records of the workspace by phase",
    ["workspace", "phase"],
  );
  readonly workspaceNumbersBilled = this.workspaceGauge(
    "bird_operator_workspace_numbers_billed",
    "Numbers the workspace pays for or is buying, " +
      "as spec.policy.maxNumbers counts them (Released ones and numbers no record knows included)",
    ["workspace"],
  );
  readonly workspaceNumberLimit = this.workspaceGauge(
    "bird_operator_workspace_numbers_limit",
    "The workspace's spec.policy.maxNumbers, when set",
    ["workspace"],
  );
  readonly workspaceNumbersHeadroom = this.workspaceGauge(
    "bird_operator_workspace_numbers_headroom",
    "Numbers left before spec.policy.maxNumbers (negative when over it), when set",
    ["workspace"],
  );
  readonly workspaceSenders = this.workspaceGauge(
    "bird_operator_workspace_senders",
    "BirdSender records of the workspace by phase",
    ["workspace", "phase"],
  );
  readonly workspaceSenderCountries = this.workspaceGauge(
    "bird_operator_workspace_sender_countries",
    "Sender countries with an active subscription in the workspace",
    ["workspace"],
  );
  readonly managedResources = new Gauge({
    name: "bird_operator_managed_resources",
    help: "Resources managed by the operator, by kind and Ready condition status",
    labelNames: ["kind", "ready"] as const,
    registers: [this.registry],
  });
  readonly kubeWrites = new Counter({
    name: "bird_operator_kube_writes_total",
    help: "Writes the operator made to the Kubernetes API, by kind and verb",
    labelNames: ["kind", "verb"] as const,
    registers: [this.registry],
  });
  readonly eventsDropped = new Counter({
    name: "bird_operator_events_dropped_total",
    help:
      "Kubernetes Events the operator did not write, by why: spam-filter (25 for one object and reason, then one " +
      "per 5 minutes) or backlog-full (10,000 waiting to be written); what they said is still in the logs",
    labelNames: ["why"] as const,
    registers: [this.registry],
  });
  readonly initialReconcileSeconds = new Gauge({
    name: "bird_operator_initial_reconcile_seconds",
    help:
      "Seconds from process start until every object present when the controller started (caches synced) was " +
      "reconciled once; absent until then",
    labelNames: ["controller"] as const,
    registers: [this.registry],
  });
  readonly backgroundErrors = new Counter({
    name: "bird_operator_background_errors_total",
    help:
      "Failures of background work that nobody awaits (inventory polls, stock searches for waiting resources), " +
      "by task; each is retried at its next poll",
    labelNames: ["task"] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "leader_election_master_status",
    help: "1 when this instance holds the leader lease",
    labelNames: ["name"] as const,
    registers: [this.registry],
  });

  private readonly queues = new Map<string, () => QueueWork>();
  private readonly views = new Map<View, { refresh: () => void; at: number }>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** A work queue's running items, read at each scrape (client-go updates these every 500 ms; a scrape is as fresh). */
  trackQueue(name: string, work: () => QueueWork): void {
    this.queues.set(name, work);
  }

  /**
   * Sets the gauges of a view (resource conditions, workspace usage) from the caches when Prometheus scrapes: series
   * follow the objects, so a deleted object's series go with it. The gauges of one view share one refresh a scrape.
   */
  setView(view: View, refresh: () => void): void {
    this.views.set(view, { refresh, at: Number.NEGATIVE_INFINITY });
  }

  private refreshView(view: View): void {
    const entry = this.views.get(view);
    const now = Date.now();
    if (!entry || now - entry.at < VIEW_REUSE_MS) return;
    entry.at = now;
    entry.refresh();
  }

  private collectQueues(): void {
    for (const [name, work] of this.queues) {
      const { depth, unfinishedSeconds, longestSeconds } = work();
      this.workqueueDepth.set({ name }, depth);
      this.workqueueUnfinishedWork.set({ name }, unfinishedSeconds);
      this.workqueueLongestRunning.set({ name }, longestSeconds);
    }
  }

  private workspaceGauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge({
      name,
      help: `${help}; exported by the leader only`,
      labelNames,
      registers: [this.registry],
      collect: () => this.refreshView("workspaces"),
    });
  }
}

/** What a work queue is running now: the summed and the longest running time of its items. */
export interface QueueWork {
  /** Keys waiting (or running and added again). */
  depth: number;
  unfinishedSeconds: number;
  longestSeconds: number;
}

export type View = "resources" | "workspaces";

/** All gauges of a view read one refresh within this window (a scrape collects them one after another). */
const VIEW_REUSE_MS = 1000;
