// The error class alone: client-node's index would load every generated API model.
import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";

/**
 * How the controller reacts to a failed reconcile. Classified once, at the controller boundary:
 * not-found -> done; conflict -> quick requeue, no error log; transient -> backoff; permanent -> no retry until
 * the object's generation changes.
 */
export type ErrorClass = "not-found" | "conflict" | "transient" | "permanent";

/**
 * An error a reconciler throws when retrying cannot help until the spec (or a referenced object) changes. When what it
 * depends on is not watched (Bird's stock, a wallet), `retryAfterMs` has the object looked at again that much later.
 */
export class PermanentError extends Error {
  readonly errorClass = "permanent" as const;
  readonly retryAfterMs: number | undefined;
  constructor(
    message: string,
    readonly reason: string,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options);
    this.name = "PermanentError";
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** An error worth retrying with backoff, carrying the condition reason to report meanwhile. */
export class TransientError extends Error {
  readonly errorClass = "transient" as const;
  constructor(
    message: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "TransientError";
  }
}

export function classifyError(error: unknown): ErrorClass {
  if (error instanceof PermanentError) return "permanent";
  if (error instanceof TransientError) return "transient";
  if (error instanceof ApiException) {
    if (error.code === 404) return "not-found";
    if (error.code === 409) return "conflict";
    // 422: the API server refused what we wrote (schema, CEL): writing it again cannot help.
    if (error.code === 422 || error.code === 400) return "permanent";
    return "transient";
  }
  const kind = (error as { kind?: string } | null)?.kind;
  if (kind === "permanent" || kind === "unauthorized" || kind === "forbidden") return "permanent";
  return "transient";
}

export function isApiStatus(error: unknown, code: number): boolean {
  return apiStatusCode(error) === code;
}

/** The HTTP status of a failed API server request; undefined for other errors (network, timeout). */
export function apiStatusCode(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/**
 * For a 429 from the API server (e.g. "storage is (re)initializing" right after it restarted): how long it asks the
 * client to wait, from the Status' `details.retryAfterSeconds` (1 s when it does not say). Undefined for other errors.
 */
export function apiRetryAfterMs(error: unknown): number | undefined {
  if (!(error instanceof ApiException) || error.code !== 429) return undefined;
  try {
    const body: unknown = typeof error.body === "string" ? JSON.parse(error.body) : error.body;
    const seconds = (body as { details?: { retryAfterSeconds?: unknown } } | undefined)?.details?.retryAfterSeconds;
    return typeof seconds === "number" && seconds > 0 ? Math.min(seconds, 60) * 1000 : 1000;
  } catch {
    return 1000;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Not an error of the operator: the resource waits for something outside it (stock, quota, a workspace). The
 * reconciler reports the reason on the object and polls again after `requeueAfterMs`; the controller never sees it.
 */
export class Waiting extends Error {
  constructor(
    message: string,
    readonly reason: string,
    readonly requeueAfterMs: number,
  ) {
    super(message);
    this.name = "Waiting";
  }
}

/** The condition reason an error should be reported with. */
export function errorReason(error: unknown, fallback: string): string {
  if (error instanceof PermanentError || error instanceof TransientError || error instanceof Waiting)
    return error.reason;
  return fallback;
}
