import type { Logger } from "../log.js";
import { BirdApiError, parseRetryAfter } from "./errors.js";
import { BirdRequest, type BirdResponse, type BirdSend } from "./http-send.js";
import type { Priority, WorkspaceRateLimiter } from "./rate-limiter.js";
import { isIdempotent, type RouteMatcher } from "./routes.js";
import type { SendGuard } from "./types.js";

/** Hooks for metrics; `route` is always the OpenAPI path template. */
export interface BirdObserver {
  request?(event: { method: string; route: string; status: number | "error"; seconds: number; attempt: number }): void;
  rateLimitWait?(event: { method: "GET" | "POST"; seconds: number }): void;
}

export interface TransportOptions {
  /** Sends one attempt (src/bird/http-send.ts: Node's HTTP client, or a fetch a test injects). */
  send: BirdSend;
  /** Sent as User-Agent on every attempt, so Bird's logs name the operator and its version. */
  userAgent?: string;
  limiter: WorkspaceRateLimiter;
  routeOf: RouteMatcher;
  /** Per attempt, from sending the request to the last byte of the answer. */
  timeoutMs: number;
  maxAttempts: number;
  backoff: { baseMs: number; maxMs: number };
  logger: Logger;
  observer?: BirdObserver;
  /** In [0, 1); injectable for deterministic jitter. */
  random?: () => number;
}

/** 429: Bird did not process the request. 5xx: Bird's docs say retrying after a delay is safe. */
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/** Set by the client on calls off the path to Ready; read and removed here, never sent to Bird. */
export const PRIORITY_HEADER = "x-bird-operator-priority";

type Outcome = { response: BirdResponse } | { failure: "network" | "timeout"; cause: unknown };

interface Call {
  method: string;
  route: string;
  idempotent: boolean;
  url: string;
  headers: Headers;
  body: Uint8Array | string | undefined;
  signal: AbortSignal;
  priority: Priority;
}

/**
 * The `fetch` handed to openapi-fetch: rate limiting, per-attempt timeouts and retries with full-jitter backoff.
 * Each attempt sends the same buffered body. The answer is read whole within its attempt and handed back as a
 * BirdResponse (a Response for what openapi-fetch reads of it).
 * A call that is not idempotent (buying numbers) is retried only on 429, which Bird guarantees was not processed. A
 * 5xx is not retried here either (Bird documents it as not processed, and the caller decides when to buy again); a
 * failure with no answer at all ends in an error marked ambiguous, for the caller to resolve by looking it up.
 */
export type RetryingFetch = (request: Request | BirdRequest, send?: { guard?: SendGuard }) => Promise<Response>;

export function createRetryingFetch(options: TransportOptions): RetryingFetch {
  const random = options.random ?? Math.random;
  return async (request: Request | BirdRequest, send = {}): Promise<Response> => {
    const call = await snapshot(request, options);
    for (let attempt = 1; ; attempt++) {
      await takeToken(options, call.method, call.priority);
      // The wait for a token (or a retry) can be long; a caller that gave up or may no longer act must not still send.
      call.signal.throwIfAborted();
      const refusal = send.guard?.();
      if (refusal) {
        options.logger.warn(
          { method: call.method, route: call.route, attempt, reason: refusal.message },
          "Bird request not sent: its guard refused",
        );
        throw refusal;
      }
      const outcome = await attemptOnce(options, call, attempt);
      adaptRate(options, call, outcome);
      const delayMs = retryDelay(options, call, outcome, attempt, random);
      if (delayMs === undefined) {
        return settle(options, call, outcome, attempt);
      }
      options.logger.info(
        { method: call.method, route: call.route, attempt, outcome: describeOutcome(outcome), delayMs },
        "Retrying Bird API call",
      );
      await sleep(delayMs, call.signal);
    }
  };
}

async function snapshot(request: Request | BirdRequest, options: TransportOptions): Promise<Call> {
  const route = options.routeOf(request.url);
  // openapi-fetch's headers are this call's own; a WHATWG Request's are copied before they are changed.
  const headers = request instanceof BirdRequest ? request.headers : new Headers(request.headers);
  if (options.userAgent) headers.set("user-agent", options.userAgent);
  const priority: Priority = headers.get(PRIORITY_HEADER) === "background" ? "background" : "normal";
  headers.delete(PRIORITY_HEADER);
  return {
    method: request.method,
    route,
    idempotent: isIdempotent(request.method, route),
    url: request.url,
    headers,
    body: await bodyOf(request),
    signal: request.signal,
    priority,
  };
}

/** The body to send on every attempt: openapi-fetch's text as it is, a WHATWG Request's read once. */
async function bodyOf(request: Request | BirdRequest): Promise<Uint8Array | string | undefined> {
  if (request instanceof BirdRequest) return request.bodyText;
  return request.body === null ? undefined : new Uint8Array(await request.arrayBuffer());
}

async function takeToken(options: TransportOptions, method: string, priority: Priority): Promise<void> {
  const waitedMs = await options.limiter.acquire(method, priority);
  const bucket = method.toUpperCase() === "GET" ? "GET" : "POST";
  notify(options, () => options.observer?.rateLimitWait?.({ method: bucket, seconds: waitedMs / 1000 }));
}

async function attemptOnce(options: TransportOptions, call: Call, attempt: number): Promise<Outcome> {
  const started = performance.now();
  const outcome = await withDeadline(options.timeoutMs, call.signal, (signal) => send(options, call, signal));
  const seconds = (performance.now() - started) / 1000;
  const status = "response" in outcome ? outcome.response.status : "error";
  notify(options, () =>
    options.observer?.request?.({ method: call.method, route: call.route, status, seconds, attempt }),
  );
  options.logger.debug(
    {
      method: call.method,
      route: call.route,
      attempt,
      status,
      outcome: describeOutcome(outcome),
      ms: Math.round(seconds * 1000),
    },
    "Bird API attempt",
  );
  return outcome;
}

/** Bird's answer tunes the limiter: a 429 slows the method family down, any other answer lets it speed up again. */
function adaptRate(options: TransportOptions, call: Call, outcome: Outcome): void {
  if (!("response" in outcome)) return;
  const throttled = outcome.response.status === 429;
  const perSecond = options.limiter.answered(call.method, throttled);
  if (throttled && perSecond !== undefined) {
    options.logger.info(
      { method: call.method, route: call.route, perSecond: Math.round(perSecond * 10) / 10 },
      "Bird throttled this workspace; sending slower",
    );
  }
}

/** Runs `work` with a signal that aborts on the deadline or the caller's abort, even if `work` ignores it. */
async function withDeadline(
  timeoutMs: number,
  callerSignal: AbortSignal,
  work: (signal: AbortSignal) => Promise<BirdResponse>,
): Promise<Outcome> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, "TimeoutError")),
    timeoutMs,
  );
  const forwardAbort = (): void => controller.abort(callerSignal.reason);
  callerSignal.addEventListener("abort", forwardAbort, { once: true });
  const aborted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener("abort", () => reject(controller.signal.reason as Error), { once: true });
  });
  try {
    return { response: await Promise.race([work(controller.signal), aborted]) };
  } catch (cause) {
    if (callerSignal.aborted) {
      throw callerSignal.reason;
    }
    return { failure: controller.signal.aborted ? "timeout" : "network", cause };
  } finally {
    clearTimeout(timer);
    callerSignal.removeEventListener("abort", forwardAbort);
  }
}

/** The sender reads the whole answer inside the attempt, so a connection dropped mid-body is a network failure here. */
function send(options: TransportOptions, call: Call, signal: AbortSignal): Promise<BirdResponse> {
  return options.send({ method: call.method, url: call.url, headers: call.headers, body: call.body, signal });
}

function retryDelay(
  options: TransportOptions,
  call: Call,
  outcome: Outcome,
  attempt: number,
  random: () => number,
): number | undefined {
  if (attempt >= options.maxAttempts) {
    return undefined;
  }
  if (!("response" in outcome)) {
    return call.idempotent ? fullJitter(options, attempt, random) : undefined;
  }
  const { status } = outcome.response;
  if (!RETRYABLE_STATUS.has(status) || (!call.idempotent && status !== 429)) {
    return undefined;
  }
  const retryAfterMs = parseRetryAfter(outcome.response.headers.get("retry-after"));
  if (retryAfterMs === undefined) {
    return fullJitter(options, attempt, random);
  }
  // A longer wait than our own cap would stall the caller; give up and let the error's retryAfterMs requeue it.
  return retryAfterMs <= options.backoff.maxMs ? retryAfterMs : undefined;
}

/** Full jitter (a uniform delay up to the exponential bound) spreads retries of many reconcilers apart. */
function fullJitter(options: TransportOptions, attempt: number, random: () => number): number {
  const bound = Math.min(options.backoff.maxMs, options.backoff.baseMs * 2 ** (attempt - 1));
  return Math.floor(random() * bound);
}

function settle(options: TransportOptions, call: Call, outcome: Outcome, attempt: number): Response {
  if ("response" in outcome) {
    // What openapi-fetch reads of a Response, BirdResponse has (see src/bird/http-send.ts).
    return outcome.response as unknown as Response;
  }
  const what =
    outcome.failure === "timeout" ? `timed out (${options.timeoutMs} ms per attempt)` : "failed with a network error";
  const code = causeCode(outcome.cause);
  throw new BirdApiError({
    method: call.method,
    route: call.route,
    status: 0,
    kind: "transient",
    ambiguous: !call.idempotent,
    cause: outcome.cause,
    message:
      `Bird ${call.method} ${call.route} ${what}${code ? ` (${code})` : ""} after ${attempt} ` +
      `attempt${attempt === 1 ? "" : "s"}`,
  });
}

/** A system error code (ECONNREFUSED) says enough; a cause's free text is not copied into our message. */
function causeCode(cause: unknown): string | undefined {
  for (let current = cause, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") {
      return code;
    }
  }
  return undefined;
}

function describeOutcome(outcome: Outcome): string {
  return "response" in outcome ? String(outcome.response.status) : outcome.failure;
}

/** An observer is metrics plumbing; its failure must not fail the call. */
function notify(options: TransportOptions, report: () => void): void {
  try {
    report();
  } catch (error) {
    options.logger.warn({ err: error }, "Bird API observer failed");
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
