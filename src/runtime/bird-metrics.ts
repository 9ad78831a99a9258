import type { BirdObserver } from "../bird/transport.js";
import type { Metrics } from "./metrics.js";

/** Feeds the Bird client's request and rate-limiter observations into Prometheus. */
export function metricsObserver(metrics: Metrics): BirdObserver {
  return {
    request: ({ method, route, status, seconds }) => {
      metrics.birdRequests.inc({ method, route, code: String(status) });
      metrics.birdRequestDuration.observe({ method, route }, seconds);
      const errorClass = birdErrorClass(status);
      if (errorClass) metrics.birdErrors.inc({ class: errorClass });
    },
    rateLimitWait: ({ method, seconds }) => metrics.birdRateLimiterWait.observe({ method }, seconds),
  };
}

/** The class of a failed attempt (undefined for a success), as `bird_api_errors_total` counts it. */
export function birdErrorClass(status: number | "error"): string | undefined {
  if (status === "error" || status === 0) return "network";
  if (status < 400) return undefined;
  if (status === 429) return "rate_limited";
  if (status >= 500) return "server_error";
  if (status === 401 || status === 403) return "unauthorized";
  if (status === 404) return "not_found";
  return "client_error";
}
