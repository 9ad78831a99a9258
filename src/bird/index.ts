export { createBirdClient, type BirdApi, type BirdClient, type BirdClientOptions } from "./client.js";
export {
  BirdApiError,
  classifyStatus,
  isBirdApiError,
  parseRetryAfter,
  type BirdApiErrorInit,
  type BirdErrorKind,
} from "./errors.js";
export {
  addMoney,
  compareMoney,
  CurrencyMismatchError,
  formatMoney,
  isAtMost,
  money,
  toDecimalString,
  toNumber,
} from "./money.js";
export { paginate } from "./paginate.js";
export {
  createWorkspaceRateLimiter,
  DEFAULT_GET_PER_SECOND,
  DEFAULT_POST_PER_SECOND,
  rateLimiterFor,
  releaseRateLimiter,
  resetRateLimiters,
  sharedRateLimiterCount,
  TokenBucket,
  type RateLimits,
  type TokenBucketOptions,
  type WorkspaceRateLimiter,
} from "./rate-limiter.js";
export { isIdempotent, ROUTES, routeMatcher, UNKNOWN_ROUTE, type BirdRoute } from "./routes.js";
export type { BirdObserver } from "./transport.js";
export type * from "./types.js";
