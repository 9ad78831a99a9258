export type BirdErrorKind = "transient" | "permanent" | "unauthorized" | "forbidden" | "not-found";

export interface BirdApiErrorInit {
  method: string;
  /** The OpenAPI path template, never the concrete URL. */
  route: string;
  /** HTTP status; 0 when no answer arrived (network error, timeout). */
  status: number;
  code?: string;
  birdMessage?: string;
  details?: Record<string, unknown>;
  kind?: BirdErrorKind;
  /**
   * The request may have taken effect although it failed: a write that got no answer (timeout, network) or an
   * unreadable success. Never an error status: Bird processed nothing it answered 4xx or 5xx to.
   */
  ambiguous?: boolean;
  retryAfterMs?: number;
  cause?: unknown;
  /** Overrides the generated message (network errors, timeouts, malformed bodies). */
  message?: string;
}

/**
 * Every failure of a Bird call, classified once so controllers can decide without parsing messages. The message
 * carries method, route template, status and Bird's own code and message: never the URL, headers or access key.
 */
export class BirdApiError extends Error {
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly code: string | undefined;
  readonly birdMessage: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly kind: BirdErrorKind;
  readonly ambiguous: boolean;
  /**
   * Bird answered 5xx: its own fault, and by its docs the request was not processed (nothing was bought), so it may
   * be repeated after a delay. Unlike `ambiguous`, which is a request that got no answer at all.
   */
  readonly serverError: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(init: BirdApiErrorInit) {
    const ambiguous = init.ambiguous ?? false;
    super(describe(init, ambiguous), init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "BirdApiError";
    this.method = init.method;
    this.route = init.route;
    this.status = init.status;
    this.code = init.code;
    this.birdMessage = init.birdMessage;
    this.details = init.details;
    this.kind = init.kind ?? classifyStatus(init.status);
    this.ambiguous = ambiguous;
    this.serverError = isServerError(init.status);
    this.retryAfterMs = init.retryAfterMs;
  }

  get transient(): boolean {
    return this.kind === "transient";
  }
}

function describe(init: BirdApiErrorInit, ambiguous: boolean): string {
  let text = init.message ?? answered(init);
  if (ambiguous) {
    text += " (the request may have taken effect: look the result up before repeating it)";
  } else if (isServerError(init.status) && init.method.toUpperCase() !== "GET") {
    text += " (not processed: Bird documents a 5xx as safe to repeat after a delay)";
  }
  return text;
}

function isServerError(status: number): boolean {
  return status >= 500 && status <= 599;
}

function answered(init: BirdApiErrorInit): string {
  const head = `Bird ${init.method} ${init.route} answered ${init.status}`;
  const code = init.code ? ` ${init.code}` : "";
  const message = init.birdMessage ? `: ${init.birdMessage}` : "";
  return `${head}${code}${message}`;
}

/** 429 and 5xx are Bird's (or the network's) problem and pass; other 4xx need a change on our side. */
export function classifyStatus(status: number): BirdErrorKind {
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "not-found";
  if (status === 0 || status === 429 || status >= 500) return "transient";
  return "permanent";
}

export function isBirdApiError(error: unknown): error is BirdApiError {
  return error instanceof BirdApiError;
}

/** Bird's documented error object `{ code, message, details? }`; anything else yields no fields. */
export function parseErrorBody(body: unknown): Pick<BirdApiErrorInit, "code" | "birdMessage" | "details"> {
  if (typeof body !== "object" || body === null) {
    return {};
  }
  const { code, message, details } = body as Record<string, unknown>;
  return {
    code: typeof code === "string" ? code : undefined,
    birdMessage: typeof message === "string" ? message : undefined,
    details:
      typeof details === "object" && details !== null && !Array.isArray(details)
        ? (details as Record<string, unknown>)
        : undefined,
  };
}

/**
 * `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. Bird does
 * not document the header; honouring it costs nothing if it ever arrives.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === "") {
    return undefined;
  }
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    return Number(text) * 1000;
  }
  // Every HTTP-date form starts with a day name; Date.parse alone would read "-5" as a year.
  const date = /^[A-Za-z]/.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
