import createClient, { type Client, type Middleware } from "openapi-fetch";
import { silentLogger, type Logger } from "../log.js";
import { USER_AGENT } from "../version.js";
import { BirdApiError, parseErrorBody, parseRetryAfter, type BirdApiErrorInit } from "./errors.js";
import { paginate, paginateBothEnds } from "./paginate.js";
import { BirdRequest, fetchSend, sharedHttpSend, type BirdSend } from "./http-send.js";
import { rateLimiterFor, releaseRateLimiter, type RateLimits, type WorkspaceRateLimiter } from "./rate-limiter.js";
import { isIdempotent, routeMatcher, type BirdRoute, type RouteMatcher } from "./routes.js";
import type { paths } from "./schema.js";
import { activateShape, quoteShape, isRecord, listOf, objectWith, parseJson, type ShapeCheck } from "./shapes.js";
import { createRetryingFetch, PRIORITY_HEADER, type BirdObserver, type RetryingFetch } from "./transport.js";
import type {
  ActivateDestinationsResult,
  AlphaNumber,
  BuyOptions,
  Destination,
  EndpointSubscription,
  LongCodeNumber,
  NumberQuery,
  NumberStockItem,
  NumberType,
  Page,
  PageRequest,
  SendGuard,
  SendOptions,
  StockFilter,
} from "./types.js";

export interface BirdClientOptions {
  baseUrl: string;
  organizationId: string;
  workspaceId: string;
  /** A function is read on every request, so a rotated Secret is picked up without a new client. */
  accessKey: string | (() => string);
  rateLimits?: RateLimits;
  /** Per attempt; default 10 000. */
  timeoutMs?: number;
  /** Default 6. */
  maxAttempts?: number;
  backoff?: { baseMs?: number; maxMs?: number };
  /** A WHATWG fetch to send through instead (tests' fake Bird); wins over `send`. */
  fetch?: typeof fetch;
  /** Default: Node's HTTP client with keep-alive pools, honouring HTTPS_PROXY and NO_PROXY (src/bird/http-send.ts). */
  send?: BirdSend;
  logger?: Logger;
  observer?: BirdObserver;
}

/** The calls the operator makes; what fakes in controller tests implement. Each returns data or throws BirdApiError. */
export interface BirdApi {
  readonly organizationId: string;
  readonly workspaceId: string;
  searchStock(filter: StockFilter, page?: PageRequest): Promise<Page<NumberStockItem>>;
  /** `limit` is the page size (default 99); `max` stops after that many items. */
  stockItems(filter: StockFilter, options?: { limit?: number; max?: number }): AsyncIterable<NumberStockItem>;
  /**
   * 1..25 stock items; never retried except on 429, and an unclear outcome is an `ambiguous` error. `guard` is asked
   * right before each attempt leaves (after the rate limiter, and before a retry): its error stops the buy unsent.
   */
  buyNumbers(stockItemIds: string[], options?: BuyOptions): Promise<LongCodeNumber[]>;
  listNumbers(query?: NumberQuery, page?: PageRequest): Promise<Page<LongCodeNumber>>;
  /** Every number matching `query`; with none, the whole workspace, where a number may come twice (both ends read). */
  numbers(query?: NumberQuery): AsyncIterable<LongCodeNumber>;
  getNumber(id: string): Promise<LongCodeNumber>;
  listAlphaNumbers(page?: PageRequest & { reverse?: boolean }): Promise<Page<AlphaNumber>>;
  alphaNumbers(): AsyncIterable<AlphaNumber>;
  getAlphaNumber(id: string): Promise<AlphaNumber>;
  activateDestinations(
    endpointId: string,
    capability: string,
    countryCodes: string[],
    options?: { validate?: boolean } & SendOptions,
  ): Promise<ActivateDestinationsResult>;
  /** `guard`, as for a buy: asked right before each attempt leaves; its error stops the call unsent. */
  deactivateDestinations(
    endpointId: string,
    capability: string,
    countryCodes: string[],
    options?: SendOptions,
  ): Promise<Destination[]>;
  listSubscriptions(endpointId: string): Promise<EndpointSubscription[]>;
  /** `background`: off the path to Ready; waits behind every other GET of the workspace (see TokenBucket). */
  getSubscription(endpointId: string, name: string, options?: { background?: boolean }): Promise<EndpointSubscription>;
  /** `guard`, as for a buy: asked right before each attempt leaves; its error stops the call unsent. */
  cancelSubscription(endpointId: string, name: string, options?: SendOptions): Promise<EndpointSubscription>;
}

export interface BirdClient extends BirdApi {
  /** The typed openapi-fetch client, with auth, rate limits and retries, for calls BirdApi lacks. */
  readonly raw: Client<paths>;
  /** New limits for the workspace's shared rate limiter (a spec change), without a new client. */
  setRateLimits(limits: RateLimits | undefined): void;
  /**
   * Lets go of what the client shares with the workspace's other clients (its rate limiter); calls in flight finish.
   */
  close(): void;
}

const DEFAULTS = { timeoutMs: 10_000, maxAttempts: 6, baseMs: 200, maxMs: 10_000 } as const;
const MAX_PAGE = 99;

export function createBirdClient(options: BirdClientOptions): BirdClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const logger = (options.logger ?? silentLogger()).child({ component: "bird-client" });
  const routeOf = routeMatcher(baseUrl);
  const maxAttempts = options.maxAttempts ?? DEFAULTS.maxAttempts;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
  }
  const limiter = rateLimiterFor(baseUrl, options.workspaceId, options.rateLimits);
  const transport = createRetryingFetch({
    send: options.fetch ? fetchSend(options.fetch) : (options.send ?? sharedHttpSend()),
    userAgent: USER_AGENT,
    limiter,
    routeOf,
    timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
    maxAttempts,
    backoff: { baseMs: options.backoff?.baseMs ?? DEFAULTS.baseMs, maxMs: options.backoff?.maxMs ?? DEFAULTS.maxMs },
    logger,
    observer: options.observer,
  });
  // BirdRequest for Request: only what the transport reads (see src/bird/http-send.ts).
  const raw = createClient<paths>({
    baseUrl,
    Request: BirdRequest as unknown as typeof Request,
    fetch: (request: Request) => transport(request),
  });
  const readKey = (): string =>
    (typeof options.accessKey === "function" ? options.accessKey() : options.accessKey).trim();
  const sentKeys = new SentKeys();
  raw.use(authMiddleware(readKey, routeOf, sentKeys));
  const secretKeys = (): string[] => [...sentKeys.keys(), readKeyOrEmpty(readKey)];
  const shared = { limiter, release: (): void => releaseRateLimiter(baseUrl, options.workspaceId) };
  return new HttpBirdClient(raw, transport, shared, options.organizationId, options.workspaceId, secretKeys);
}

/**
 * The last few keys this client sent. An answer may echo the key its request carried, which after a rotation is no
 * longer the current one: every key sent recently is scrubbed from Bird's text, not only the current key.
 */
class SentKeys {
  private readonly recent: string[] = [];

  constructor(private readonly max = 4) {}

  add(key: string): void {
    if (this.recent[this.recent.length - 1] === key) return;
    const at = this.recent.indexOf(key);
    if (at >= 0) this.recent.splice(at, 1);
    this.recent.push(key);
    if (this.recent.length > this.max) this.recent.shift();
  }

  keys(): readonly string[] {
    return this.recent;
  }
}

/** Header values allow visible ASCII only; an invalid key must fail without Headers quoting it in a TypeError. */
const VALID_KEY = /^[\x21-\x7e]+$/;

function authMiddleware(readKey: () => string, routeOf: RouteMatcher, sentKeys: SentKeys): Middleware {
  return {
    onRequest: ({ request }): Request => {
      const key = readKey();
      if (!VALID_KEY.test(key)) {
        const route = routeOf(request.url);
        const problem = key === "" ? "empty" : "not a valid header value";
        const message = `Bird ${request.method} ${route} not sent: the access key is ${problem}`;
        throw new BirdApiError({ method: request.method, route, status: 0, kind: "unauthorized", message });
      }
      sentKeys.add(key);
      request.headers.set("Authorization", `AccessKey ${key}`);
      request.headers.set("Accept", "application/json");
      return request;
    },
  };
}

type Answer = { data?: string; error?: unknown; response: Response };

/**
 * What the contract says a route answers on success: the body type comes from openapi/bird.yaml (schema.d.ts), so
 * the client does not assert its own. Bodies are fetched as text (see `call`) and checked for their shape at run time.
 */
type OkBody<R extends BirdRoute, M extends "GET" | "POST"> = paths[R][Lowercase<M>] extends {
  responses: infer Responses;
}
  ? Responses extends { 200: { content: { "application/json": infer Body } } }
    ? Body
    : Responses extends { 201: { content: { "application/json": infer Body } } }
      ? Body
      : never
  : never;

class HttpBirdClient implements BirdClient {
  constructor(
    readonly raw: Client<paths>,
    /** The same transport `raw` uses, for calls that pass it options of their own (a buy's guard). */
    private readonly transport: RetryingFetch,
    private readonly shared: { limiter: WorkspaceRateLimiter; release: () => void },
    readonly organizationId: string,
    readonly workspaceId: string,
    /** Every key whose text must not reach an error: the current one and those sent recently. */
    private readonly secretKeys: () => string[],
  ) {}

  setRateLimits(limits: RateLimits | undefined): void {
    this.shared.limiter.configure(limits ?? {});
  }

  close(): void {
    const { release } = this.shared;
    this.shared.release = (): void => undefined;
    release();
  }

  async searchStock(filter: StockFilter, page: PageRequest = {}): Promise<Page<NumberStockItem>> {
    const route = "/organizations/{organizationId}/numbers-stock-items";
    const query = {
      countryCodes: filter.countryCodes,
      prefix: filter.prefix,
      types: filter.types as NumberType[] | undefined,
      features: filter.features,
      testing: filter.testing,
      limit: page.limit,
      pageToken: page.pageToken,
    };
    const path = { organizationId: this.organizationId };
    return this.call("GET", route, listOf("id"), () =>
      this.raw.GET(route, { params: { path, query }, parseAs: "text" }),
    );
  }

  async *stockItems(
    filter: StockFilter,
    options: { limit?: number; max?: number } = {},
  ): AsyncGenerator<NumberStockItem> {
    const max = options.max ?? Infinity;
    const limit = options.limit ?? MAX_PAGE;
    const route = "/organizations/{organizationId}/numbers-stock-items";
    let count = 0;
    if (max <= 0) {
      return;
    }
    for await (const item of paginate((pageToken) => this.searchStock(filter, { limit, pageToken }), route)) {
      yield item;
      if (++count >= max) {
        return;
      }
    }
  }

  async buyNumbers(stockItemIds: string[], options: BuyOptions = {}): Promise<LongCodeNumber[]> {
    requireCount("buyNumbers", "stock item ids", stockItemIds, 25);
    const route = "/workspaces/{workspaceId}/numbers-long-code";
    const fetch = this.guarded(options.guard);
    const page = await this.call("POST", route, listOf("id"), () =>
      this.raw.POST(route, {
        params: { path: { workspaceId: this.workspaceId } },
        body: { numberStockItemIds: stockItemIds },
        parseAs: "text",
        fetch,
      }),
    );
    return page.results;
  }

  async listNumbers(query: NumberQuery = {}, page: PageRequest = {}): Promise<Page<LongCodeNumber>> {
    const route = "/workspaces/{workspaceId}/numbers-long-code";
    return this.call("GET", route, listOf("id"), () =>
      this.raw.GET(route, {
        params: {
          path: { workspaceId: this.workspaceId },
          query: { ...query, limit: page.limit, pageToken: page.pageToken },
        },
        parseAs: "text",
      }),
    );
  }

  numbers(query: NumberQuery = {}): AsyncGenerator<LongCodeNumber> {
    const route = "/workspaces/{workspaceId}/numbers-long-code";
    if (Object.keys(query).length > 0)
      return paginate((pageToken) => this.listNumbers(query, { limit: MAX_PAGE, pageToken }), route);
    // The whole workspace (no filter) is read to the end by the inventory: from both ends at once, half the round
    // trips in a row (a number may come twice where the two ends meet).
    return paginateBothEnds(
      (reverse, pageToken) => this.listNumbers(reverse ? { reverse } : {}, { limit: MAX_PAGE, pageToken }),
      (number) => number.createdAt,
      route,
      { pageSize: MAX_PAGE },
    );
  }

  async getNumber(id: string): Promise<LongCodeNumber> {
    const route = "/workspaces/{workspaceId}/numbers-long-code/{longCodeNumberId}";
    const path = { workspaceId: this.workspaceId, longCodeNumberId: pathSegment("number id", id) };
    return this.call("GET", route, objectWith("id"), () => this.raw.GET(route, { params: { path }, parseAs: "text" }));
  }

  async listAlphaNumbers(page: PageRequest & { reverse?: boolean } = {}): Promise<Page<AlphaNumber>> {
    const route = "/workspaces/{workspaceId}/numbers-alpha";
    const query = { limit: page.limit, pageToken: page.pageToken, reverse: page.reverse };
    return this.call("GET", route, listOf("id"), () =>
      this.raw.GET(route, { params: { path: { workspaceId: this.workspaceId }, query }, parseAs: "text" }),
    );
  }

  alphaNumbers(): AsyncGenerator<AlphaNumber> {
    const route = "/workspaces/{workspaceId}/numbers-alpha";
    return paginate((pageToken) => this.listAlphaNumbers({ limit: MAX_PAGE, pageToken }), route);
  }

  async getAlphaNumber(id: string): Promise<AlphaNumber> {
    const route = "/workspaces/{workspaceId}/numbers-alpha/{alphaNumberId}";
    const path = { workspaceId: this.workspaceId, alphaNumberId: pathSegment("alpha sender id", id) };
    return this.call("GET", route, objectWith("id"), () => this.raw.GET(route, { params: { path }, parseAs: "text" }));
  }

  async activateDestinations(
    endpointId: string,
    capability: string,
    countryCodes: string[],
    options: { validate?: boolean } & SendOptions = {},
  ): Promise<ActivateDestinationsResult> {
    requireCount("activateDestinations", "country codes", countryCodes, 100);
    const route = "/workspaces/{workspaceId}/endpoints/{endpointId}/destinations/activate";
    const path = { workspaceId: this.workspaceId, endpointId: pathSegment("endpoint id", endpointId) };
    const query = options.validate ? { validate: true } : {};
    const fetch = this.guarded(options.guard);
    const answer = await this.call("POST", route, options.validate ? quoteShape : activateShape, () =>
      this.raw.POST(route, { params: { path, query }, body: { capability, countryCodes }, parseAs: "text", fetch }),
    );
    if (answer.error !== undefined && answer.error !== null) {
      // Bird documents errors of this call inside a 200 body.
      throw this.error({ method: "POST", route, status: 200, kind: "permanent", ...parseErrorBody(answer.error) });
    }
    return { subscriptionPrices: answer.subscriptionPrices, results: answer.results };
  }

  /** `guard` is asked right before each attempt leaves (after any wait for the rate limiter or a retry). */
  async deactivateDestinations(
    endpointId: string,
    capability: string,
    countryCodes: string[],
    options: SendOptions = {},
  ): Promise<Destination[]> {
    requireCount("deactivateDestinations", "country codes", countryCodes, 25);
    const route = "/workspaces/{workspaceId}/endpoints/{endpointId}/destinations/deactivate";
    const path = { workspaceId: this.workspaceId, endpointId: pathSegment("endpoint id", endpointId) };
    const fetch = this.guarded(options.guard);
    const page = await this.call("POST", route, listOf("countryCode"), () =>
      this.raw.POST(route, { params: { path }, body: { capability, countryCodes }, parseAs: "text", fetch }),
    );
    return page.results;
  }

  async listSubscriptions(endpointId: string): Promise<EndpointSubscription[]> {
    const route = "/workspaces/{workspaceId}/endpoints/{endpointId}/subscriptions";
    const path = { workspaceId: this.workspaceId, endpointId: pathSegment("endpoint id", endpointId) };
    const page = await this.call("GET", route, listOf("name"), () =>
      this.raw.GET(route, { params: { path }, parseAs: "text" }),
    );
    return page.results;
  }

  async getSubscription(
    endpointId: string,
    name: string,
    options: { background?: boolean } = {},
  ): Promise<EndpointSubscription> {
    const route = "/workspaces/{workspaceId}/endpoints/{endpointId}/subscriptions/{subscriptionName}";
    const headers = options.background ? { [PRIORITY_HEADER]: "background" } : undefined;
    return this.call("GET", route, objectWith("name"), () =>
      this.raw.GET(route, { params: { path: this.subscriptionPath(endpointId, name) }, headers, parseAs: "text" }),
    );
  }

  /** `guard` is asked right before each attempt leaves (after any wait for the rate limiter or a retry). */
  async cancelSubscription(endpointId: string, name: string, options: SendOptions = {}): Promise<EndpointSubscription> {
    const route = "/workspaces/{workspaceId}/endpoints/{endpointId}/subscriptions/{subscriptionName}/cancel";
    const fetch = this.guarded(options.guard);
    return this.call("POST", route, objectWith("name"), () =>
      this.raw.POST(route, { params: { path: this.subscriptionPath(endpointId, name) }, parseAs: "text", fetch }),
    );
  }

  /** A fetch that asks `guard` before each attempt, or undefined (the client's own) without one. */
  private guarded(guard: SendGuard | undefined): ((request: Request) => Promise<Response>) | undefined {
    return guard ? (request: Request): Promise<Response> => this.transport(request, { guard }) : undefined;
  }

  private subscriptionPath(
    endpointId: string,
    name: string,
  ): { workspaceId: string; endpointId: string; subscriptionName: string } {
    return {
      workspaceId: this.workspaceId,
      endpointId: pathSegment("endpoint id", endpointId),
      subscriptionName: pathSegment("subscription name", name),
    };
  }

  /**
   * Turns an openapi-fetch answer into data or a BirdApiError. Bodies are fetched as text and parsed here, so a
   * body that is not JSON, or not the expected shape, is a clear transient error rather than a crash.
   */
  private async call<R extends BirdRoute, M extends "GET" | "POST">(
    method: M,
    route: R,
    shape: ShapeCheck,
    send: () => Promise<Answer>,
  ): Promise<OkBody<R, M>> {
    const { data, error, response } = await send();
    const unsafe = !isIdempotent(method, route);
    if (!response.ok) {
      // Bird's answer, even a 5xx, says the request was not processed (Bird's docs). A 5xx without Bird's error body
      // ({code, message}) came from something in between (a proxy, a load balancer's 502 or 504) that may have passed
      // the request on: for a write, the outcome is unknown, as with no answer at all.
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
      const body = parseErrorBody(error);
      const notBirds = response.status >= 500 && body.code === undefined && body.birdMessage === undefined;
      throw this.error({
        method,
        route,
        status: response.status,
        retryAfterMs,
        ...body,
        ambiguous: unsafe && notBirds,
      });
    }
    const body = parseJson(data);
    const problem = body === undefined ? "empty or not JSON" : shape(body.value);
    if (problem !== undefined) {
      const message = `Bird ${method} ${route} returned a malformed response body (${response.status}): ${problem}`;
      throw this.error({ method, route, status: response.status, kind: "transient", ambiguous: unsafe, message });
    }
    return body?.value as OkBody<R, M>;
  }

  /** Bird's own text could echo the key it was sent; it is scrubbed before it becomes part of an error. */
  private error(init: BirdApiErrorInit): BirdApiError {
    const keys = [...new Set(this.secretKeys())].filter((k) => k !== "");
    const scrub = <V>(value: V): V => keys.reduce((v, key) => scrubSecret(v, key), value);
    return new BirdApiError({
      ...init,
      birdMessage: scrub(init.birdMessage),
      details: scrub(init.details),
      code: scrub(init.code),
    });
  }
}

function readKeyOrEmpty(readKey: () => string): string {
  try {
    return readKey();
  } catch {
    return "";
  }
}

function scrubSecret<V>(value: V, secret: string): V {
  if (typeof value === "string") {
    return value.replaceAll(secret, "[redacted]") as V;
  }
  if (Array.isArray(value)) {
    return value.map((item: unknown) => scrubSecret(item, secret)) as V;
  }
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubSecret(v, secret)])) as V;
  }
  return value;
}

/** Batching is the caller's job; an out-of-range batch is a bug, caught before anything is sent. */
function requireCount(operation: string, what: string, items: readonly string[], max: number): void {
  if (items.length < 1 || items.length > max) {
    throw new RangeError(`${operation} takes 1 to ${max} ${what}, got ${items.length}`);
  }
}

/** "." and ".." survive URL encoding and would be resolved away, turning a get into a call on another route. */
function pathSegment(what: string, value: string): string {
  if (value === "" || value === "." || value === "..") {
    throw new RangeError(`Invalid ${what} ${JSON.stringify(value)}`);
  }
  return value;
}
