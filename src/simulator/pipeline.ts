import { setTimeout as sleep } from "node:timers/promises";
import { API_HANDLERS, type Reply } from "./api-routes.js";
import type { CallRecord } from "./calls.js";
import { ApiError, invalidRequest, notFound } from "./errors.js";
import { fieldErrors, readParameters, type Operation, type RouteMatch } from "./openapi.js";
import type { Simulator } from "./simulator.js";
import type { WorkspaceIdentity } from "./types.js";

export interface IncomingApiRequest {
  method: string;
  url: URL;
  authorization: string | undefined;
  rawBody: string;
}

/** The reply, plus what a fault does to it after the request was processed. */
export interface Outcome extends Reply {
  operation?: Operation;
  fault?: CallRecord["fault"];
}

const errorReply = (error: ApiError): Reply => ({ status: error.status, body: error.toBody() });

function authenticate(sim: Simulator, authorization: string | undefined): WorkspaceIdentity {
  const match = /^AccessKey\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (!match) {
    throw new ApiError(401, "unauthorized", "Missing or malformed Authorization header; expected `AccessKey <key>`");
  }
  const identity = sim.state.identityForKey(match[1] ?? "");
  if (!identity) throw new ApiError(401, "unauthorized", "Invalid access key");
  return identity;
}

function authorize(identity: WorkspaceIdentity, pathParams: Record<string, string>): void {
  const { workspaceId, organizationId } = pathParams;
  if (workspaceId !== undefined && workspaceId !== identity.workspaceId) {
    throw new ApiError(403, "forbidden", `The access key has no access to workspace ${workspaceId}`, { workspaceId });
  }
  if (organizationId !== undefined && organizationId !== identity.organizationId) {
    throw new ApiError(403, "forbidden", `The access key has no access to organization ${organizationId}`, {
      organizationId,
    });
  }
}

function parseBody(operation: Operation, rawBody: string): unknown {
  const validate = operation.validateBody;
  if (!validate) return undefined;
  if (rawBody.trim() === "") {
    if (operation.bodyRequired) throw invalidRequest([{ in: "body", field: "body", message: "is required" }]);
    return undefined;
  }
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    throw new ApiError(422, "invalid-json", "The request body is not valid JSON");
  }
  if (!validate(body)) throw invalidRequest(fieldErrors(validate.errors ?? [], "body"));
  return body;
}

/** Validation, then the handler. An id that cannot exist is "not found" where the contract declares no 422. */
function processRequest(
  sim: Simulator,
  operation: Operation,
  pathParams: Record<string, string>,
  request: IncomingApiRequest,
  identity: WorkspaceIdentity,
): Reply {
  try {
    const params = readParameters(operation, pathParams, request.url.searchParams);
    if (!operation.validateParameters(params)) {
      if (!operation.responses.has(422)) throw notFound("Resource", request.url.pathname);
      throw invalidRequest(fieldErrors(operation.validateParameters.errors ?? [], "parameters"));
    }
    const body = parseBody(operation, request.rawBody);
    const handler = API_HANDLERS[operation.operationId];
    if (!handler) throw new ApiError(500, "internal-error", `No handler for ${operation.operationId}`);
    return handler(sim.state, { identity, operation, params, body });
  } catch (error) {
    if (error instanceof ApiError) return errorReply(error);
    sim.logger.error({ err: error, route: operation.template }, "Simulator handler failed");
    return { status: 500, body: { code: "internal-error", message: "The simulator failed to handle the request" } };
  }
}

/**
 * Order matters and mirrors a real gateway: latency, then who is calling, then rate limits (a 429 is never
 * processed), then injected errors (not processed either), then the request itself. Resets and malformed answers
 * come last, after processing: the caller cannot tell whether a purchase happened, which is the point.
 */
async function answerOperation(
  sim: Simulator,
  match: Extract<RouteMatch, { kind: "operation" }>,
  request: IncomingApiRequest,
): Promise<Outcome> {
  const { operation, pathParams } = match;
  const faults = sim.faultInjector;
  const inScope = faults.appliesTo(operation);
  const delay = inScope ? faults.delayMs() : 0;
  if (delay > 0) await sleep(delay);
  let identity: WorkspaceIdentity;
  try {
    identity = authenticate(sim, request.authorization);
    authorize(identity, pathParams);
  } catch (error) {
    return { ...errorReply(error as ApiError), operation };
  }
  if (!sim.rateLimiter.allow(identity.workspaceId, request.method)) {
    return {
      ...errorReply(new ApiError(429, "too-many-requests", "Rate limit exceeded for this workspace")),
      operation,
    };
  }
  if (inScope && faults.takeRateLimitBurst()) {
    const reply = errorReply(new ApiError(429, "too-many-requests", "Rate limit exceeded for this workspace"));
    return { ...reply, operation, fault: "rate-limit-burst" };
  }
  const serverError = inScope ? faults.serverError() : undefined;
  if (serverError !== undefined) {
    const message = serverError === 503 ? "Service temporarily unavailable" : "Internal server error";
    const code = serverError === 503 ? "service-unavailable" : "internal-error";
    return { status: serverError, body: { code, message }, operation, fault: "server-error" };
  }
  const reply = processRequest(sim, operation, pathParams, request, identity);
  if (inScope && faults.reset()) return { ...reply, operation, fault: "reset" };
  if (inScope && (reply.status === 200 || reply.status === 201) && faults.malformed()) {
    return { ...reply, operation, fault: "malformed" };
  }
  return { ...reply, operation };
}

export async function answerApiRequest(sim: Simulator, request: IncomingApiRequest): Promise<Outcome> {
  const match = sim.contract.match(request.method, request.url.pathname);
  if (match.kind === "none") {
    return errorReply(new ApiError(404, "not-found", `No route for ${request.method} ${request.url.pathname}`));
  }
  if (match.kind === "method-not-allowed") {
    return errorReply(new ApiError(405, "method-not-allowed", `Allowed: ${match.allowed.join(", ")}`));
  }
  return answerOperation(sim, match, request);
}
