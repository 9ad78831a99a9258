import type { BirdObserver } from "../bird/transport.js";
import type { Metrics } from "./metrics.js";

/** Feeds the Bird client's request and rate-limiter observations into Prometheus. */
export function metricsObserver(metrics: Metrics): BirdObserver {
  return {
    request: ({ method, route, status, seconds }) => {
      metrics.birdRequests.inc({ method, route, code: String(status) });
      metrics.birdRequestDuration.observe({ method, route }, seconds);
    },
    rateLimitWait: ({ method, seconds }) => metrics.birdRateLimiterWait.observe({ method }, seconds),
  };
}
