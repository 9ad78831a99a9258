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
  readonly initialReconcileSeconds = new Gauge({
    name: "bird_operator_initial_reconcile_seconds",
    help: "Seconds from process start until every object present when the controller started (caches synced) was reconciled once; absent until then",
    labelNames: ["controller"] as const,
    registers: [this.registry],
  });
  readonly backgroundErrors = new Counter({
    name: "bird_operator_background_errors_total",
    help: "Failures of background work that nobody awaits (inventory polls, stock searches for waiting resources), by task; each is retried at its next poll",
    labelNames: ["task"] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "leader_election_master_status",
    help: "1 when this instance holds the leader lease",
    labelNames: ["name"] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
