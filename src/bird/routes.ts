import type { paths } from "./schema.js";

export type BirdRoute = keyof paths;

/**
 * The contract's path templates at run time (schema.d.ts holds types only). The transport labels metrics and
 * decides retry safety from the URL it is given, so a middleware that swaps the Request cannot hide a buy.
 */
export const ROUTES = [
  "/organizations/{organizationId}/numbers-stock-items",
  "/workspaces/{workspaceId}/numbers-long-code",
  "/workspaces/{workspaceId}/numbers-long-code/{longCodeNumberId}",
  "/workspaces/{workspaceId}/numbers-alpha",
  "/workspaces/{workspaceId}/numbers-alpha/{alphaNumberId}",
  "/workspaces/{workspaceId}/endpoints/{endpointId}/destinations/activate",
  "/workspaces/{workspaceId}/endpoints/{endpointId}/destinations/deactivate",
  "/workspaces/{workspaceId}/endpoints/{endpointId}/subscriptions",
  "/workspaces/{workspaceId}/endpoints/{endpointId}/subscriptions/{subscriptionName}",
  "/workspaces/{workspaceId}/endpoints/{endpointId}/subscriptions/{subscriptionName}/cancel",
] as const satisfies readonly BirdRoute[];

// Fails to compile when openapi/bird.yaml gains a path that ROUTES lacks.
const everyRouteListed: Exclude<BirdRoute, (typeof ROUTES)[number]> extends never ? true : never = true;
void everyRouteListed;

/** Used for anything that matches no template, so a concrete URL never becomes a metric label. */
export const UNKNOWN_ROUTE = "unknown";

/** Calls that must not be repeated after an unclear outcome: a second buy buys again. */
const NOT_IDEMPOTENT = new Set<string>(["POST /workspaces/{workspaceId}/numbers-long-code"]);

/** A request may be repeated after an unclear outcome; unknown writes are assumed unsafe. */
export function isIdempotent(method: string, route: string): boolean {
  const upper = method.toUpperCase();
  if (upper === "GET" || upper === "HEAD") {
    return true;
  }
  return route !== UNKNOWN_ROUTE && !NOT_IDEMPOTENT.has(`${upper} ${route}`);
}

export type RouteMatcher = (url: string) => string;

/** Maps a concrete URL back to its template, relative to the client's base URL (which may carry a path). */
export function routeMatcher(baseUrl: string): RouteMatcher {
  const basePath = new URL(baseUrl).pathname.replace(/\/+$/, "");
  const patterns = ROUTES.map((route) => ({
    route,
    regex: new RegExp(
      `^${escapeRegex(basePath)}${route
        .split(/\{[^}]+\}/)
        .map(escapeRegex)
        .join("[^/]+")}/?$`,
    ),
  }));
  return (url: string): string => {
    const pathname = new URL(url).pathname;
    return patterns.find((p) => p.regex.test(pathname))?.route ?? UNKNOWN_ROUTE;
  };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
