import type { ErrorBody } from "./types.js";

/**
 * A refusal with Bird's error object. Domain code throws it; the server turns it into the answer, so every error
 * body has the documented `{ code, message, details? }` shape.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "ApiError";
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function notFound(what: string, id: string): ApiError {
  return new ApiError(404, "not-found", `${what} ${id} not found`, { id });
}

export interface FieldError {
  in: "path" | "query" | "body";
  field: string;
  message: string;
}

export function invalidRequest(errors: FieldError[]): ApiError {
  const summary = errors
    .slice(0, 3)
    .map((e) => `${e.in} ${e.field}: ${e.message}`)
    .join("; ");
  return new ApiError(422, "invalid-request", `Invalid request: ${summary}`, { errors });
}
