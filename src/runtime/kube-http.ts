import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage } from "node:http";
import { Agent, request, type RequestOptions } from "node:https";
// The error class alone: client-node's index would load every generated API model.
import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";
import { HttpProxyAgent, HttpsProxyAgent } from "hpagent";
import { FIELD_MANAGER, USER_AGENT } from "../version.js";
import { ListDecoder, withoutManagedFields } from "./list-stream.js";
import { toKubeConnection, type ConnectionOptions, type KubeConnection, type KubeSource } from "./kube-config.js";

export type Query = Record<string, string | number | boolean | undefined>;

export interface KubeRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Query;
  body?: unknown;
  contentType?: string;
  /** Longest silence on the connection before the request fails. */
  timeoutMs?: number;
  /** Aborts the request, e.g. on a deadline for the whole exchange. */
  signal?: AbortSignal;
}

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
}

export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

/** The longest a list's decoding holds the event loop at a time (see SlicedDecode). */
const LIST_SLICE_MS = 2;

/**
 * Feeds a list answer to its decoder in slices of `sliceMs`, the answer paused in between: a 64 KB chunk is about 50
 * objects and 8 ms to decode, and every other answer waiting meanwhile (a page of Bird's, a watch event) would wait
 * that long each time. `done` resolves once the answer ended and all of it was decoded (its end may come while a
 * slice is still to be decoded); it rejects when the answer was cut off, failed, or did not decode.
 */
class SlicedDecode {
  readonly done: Promise<void>;
  private ended = false;
  private slicing = false;
  private failed = false;
  private resolve: () => void = () => undefined;
  private reject: (error: Error) => void = () => undefined;
  private readonly listeners: [string, (arg: Buffer & Error) => void][];

  constructor(
    private readonly res: IncomingMessage,
    private readonly decoder: Pick<ListDecoder<unknown>, "write">,
    private readonly sliceMs: number,
    path: string,
  ) {
    const cutOff = `the API server's list of ${path} was cut off`;
    this.listeners = [
      ["data", (chunk) => this.feed(chunk)],
      ["end", () => this.end()],
      ["error", (error) => this.fail(error)],
      ["close", () => res.complete || this.fail(new Error(cutOff))],
    ];
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      for (const [event, listener] of this.listeners) res.on(event, listener);
    }).finally(() => {
      // The answer object may outlive the list (its socket is kept alive): its listeners must not keep the decoder,
      // whose `onItem` holds what the caller gathered (an informer's 100,000 keys).
      for (const [event, listener] of this.listeners) res.off(event, listener);
    });
  }

  private feed(chunk: Buffer): void {
    const started = performance.now();
    let rest: Buffer | undefined;
    try {
      rest = this.decoder.write(chunk, () => performance.now() - started >= this.sliceMs);
    } catch (error) {
      this.res.destroy();
      return this.fail(error instanceof Error ? error : new Error(String(error)));
    }
    this.slicing = rest !== undefined;
    if (rest !== undefined) {
      this.res.pause();
      // Not `res.destroyed`: an answer that ended is destroyed at once, with the rest of its last chunk still ours.
      setImmediate(() => this.failed || this.feed(rest));
    } else if (this.ended) this.resolve();
    else if (this.res.isPaused()) this.res.resume();
  }

  private end(): void {
    this.ended = true;
    if (!this.slicing) this.resolve();
  }

  private fail(error: Error): void {
    this.failed = true;
    this.reject(error);
  }
}

/** Writes the API server takes a field manager on; DELETE takes none. */
const WRITES = new Set(["POST", "PUT", "PATCH"]);

/**
 * A small HTTP client for the API server that reuses one keep-alive connection pool: client-node 1.x builds a new
 * https.Agent (a new TLS connection) per request, which is slow and leaks descriptors under load. Credentials are
 * asked for on every request (token files rotate). Every request carries the operator's User-Agent and every write its
 * field manager; a proxy, if the connection names one, is tunnelled through with CONNECT. Errors are client-node's
 * ApiException, with the status `code` and the response `body`, so callers classify one error type.
 */
export class KubeHttp {
  private readonly connection: KubeConnection;
  /** The server URL taken apart once: each request only adds its path and query. */
  private target?: Target;
  private agent?: HttpAgent;
  /** Watches hold their connection for minutes: a pool of their own, so they never starve requests of sockets. */
  private watchAgent?: HttpAgent;

  constructor(
    source: KubeSource,
    private readonly options: { listSliceMs?: number } = {},
  ) {
    this.connection = toKubeConnection(source);
  }

  async request<T>(req: KubeRequest): Promise<T> {
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
    const res = await this.open(req, payload, "request");
    const body = await readBody(res);
    if (!isSuccess(res)) throw apiError(req, res.statusCode ?? 0, body);
    // An answer's managedFields are not read here, as in lists and watches: a write's answer is parsed without them.
    return (body ? JSON.parse(withoutManagedFields(body)) : undefined) as T;
  }

  /**
   * Lists a collection, handing each item to `onItem` as it arrives (see ListDecoder), and returns the list's own
   * metadata (resourceVersion, continue). The answer is never held whole: 100,000 objects are about 130 MB of JSON.
   */
  async list<T>(path: string, query: Query, onItem: (item: T) => void): Promise<ListMeta> {
    const req: KubeRequest = { method: "GET", path, query };
    const res = await this.open(req, undefined, "request");
    if (!isSuccess(res)) throw apiError(req, res.statusCode ?? 0, await readBody(res));
    const decoder = new ListDecoder<T>(onItem);
    await new SlicedDecode(res, decoder, this.options.listSliceMs ?? LIST_SLICE_MS, path).done;
    return decoder.end<{ metadata?: ListMeta }>().metadata ?? {};
  }

  /**
   * Streams a watch of a collection (`watch=true`), calling `onEvent` for each event line. Resolves when the server
   * ends the stream (its timeoutSeconds passed) or `signal` aborts; rejects with an ApiException when the server
   * refuses the watch (410 Gone among others), or with the connection's error.
   */
  async watch<T>(
    path: string,
    query: Query,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const req: KubeRequest = { method: "GET", path, query: { ...query, watch: true }, signal };
    let res: IncomingMessage;
    try {
      res = await this.open(req, undefined, "watch");
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
    if (!isSuccess(res)) throw apiError(req, res.statusCode ?? 0, await readBody(res));
    await streamEvents(res, path, onEvent, signal);
  }

  close(): void {
    this.agent?.destroy();
    this.watchAgent?.destroy();
    this.agent = undefined;
    this.watchAgent = undefined;
  }

  private async open(
    req: KubeRequest,
    payload: string | undefined,
    use: "request" | "watch",
  ): Promise<IncomingMessage> {
    const settings = await this.connection.requestOptions();
    const headers: Record<string, string> = {
      Accept: "application/json",
      "User-Agent": USER_AGENT,
      ...settings.headers,
    };
    if (payload !== undefined) {
      headers["Content-Type"] = req.contentType ?? "application/json";
      // Node sends a DELETE body without chunked encoding: without a length the API server would read the body as the
      // start of the next request on the kept-alive connection (which then fails with a bare 400).
      headers["Content-Length"] = String(Buffer.byteLength(payload));
    }
    const { protocol, hostname, port, basePath } = (this.target ??= target(this.connection.server));
    const path = basePath + req.path + queryString(req.path, WRITES.has(req.method), req.query);
    const options: RequestOptions = { protocol, hostname, port, path, method: req.method, headers, signal: req.signal };
    const https = protocol === "https:";
    if (use === "watch") options.agent = this.watchAgent ??= newAgent(https, this.connection.proxy, settings, Infinity);
    else options.agent = this.agent ??= newAgent(https, this.connection.proxy, settings, 32);
    return new Promise((resolve, reject) => {
      const outgoing = (https ? request : httpRequest)(options, resolve);
      if (use === "watch") {
        // A dead peer is found by TCP keep-alive probes; the informer's watchdog covers the rest.
        outgoing.on("socket", (socket) => socket.setKeepAlive(true, 30_000));
      } else {
        const timeoutMs = req.timeoutMs ?? 30_000;
        outgoing.setTimeout(timeoutMs, () =>
          outgoing.destroy(new Error(`request to the API server timed out after ${timeoutMs} ms`)),
        );
      }
      outgoing.on("error", reject);
      outgoing.end(payload);
    });
  }
}

interface Target {
  protocol: string;
  hostname: string;
  port: string;
  /** The server URL's own path (a proxy's prefix, say), without a trailing slash. */
  basePath: string;
}

function target(server: string): Target {
  const url = new URL(server);
  // As Node's urlToHttpOptions: an IPv6 address without its brackets.
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return { protocol: url.protocol, hostname, port: url.port, basePath: url.pathname.replace(/\/+$/, "") };
}

/** The query of a request: fieldManager on writes, then the request's own parameters (the last of a name wins). */
function queryString(path: string, write: boolean, query: Query | undefined): string {
  const params = new Map<string, string>();
  if (write) params.set("fieldManager", FIELD_MANAGER);
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(key, String(value));
  if (params.size === 0) return "";
  let text = "";
  for (const [key, value] of params)
    text += `${text ? "&" : ""}${encodeURIComponent(key)}=${encodeURIComponent(value)}`;
  return (path.includes("?") ? "&" : "?") + text;
}

/**
 * TLS settings are taken from the first request: they do not change while the process runs, unlike tokens. A plain
 * http:// server without a proxy (tests, local clusters) uses Node's global agent, as before.
 */
function newAgent(
  https: boolean,
  proxy: string | undefined,
  settings: ConnectionOptions,
  maxSockets: number,
): HttpAgent | undefined {
  if (!https) return proxy ? new HttpProxyAgent({ proxy, keepAlive: true, maxSockets }) : undefined;
  const { ca, cert, key, rejectUnauthorized, servername } = settings;
  const tls = { keepAlive: true, maxSockets, ca, cert, key, rejectUnauthorized, servername };
  return proxy ? new HttpsProxyAgent({ ...tls, proxy }) : new Agent(tls);
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
    res.on("close", () => {
      if (!res.complete) reject(new Error("the API server's answer was cut off"));
    });
  });
}

function isSuccess(res: IncomingMessage): boolean {
  const status = res.statusCode ?? 0;
  return status >= 200 && status < 300;
}

function apiError(req: KubeRequest, status: number, body: string): ApiException<string> {
  return new ApiException(status, `${req.method} ${req.path} answered ${status}: ${statusMessage(body)}`, body, {});
}

/** The `message` of a Kubernetes Status body, which names the field and the rule that failed. */
export function statusMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: string };
    return parsed.message ?? body.slice(0, 500);
  } catch {
    return body.slice(0, 500);
  }
}

/** Reads a watch response line by line into `onEvent`; settles as the stream ends (see KubeHttp.watch). */
function streamEvents<T>(
  res: IncomingMessage,
  path: string,
  onEvent: (event: WatchEvent<T>) => void,
  signal: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let buffered = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buffered += chunk;
      let start = 0;
      let newline: number;
      while ((newline = buffered.indexOf("\n", start)) >= 0 && !signal.aborted) {
        const line = buffered.slice(start, newline).trim();
        start = newline + 1;
        if (line && !deliverLine(res, path, line, onEvent)) return;
      }
      buffered = buffered.slice(start);
    });
    res.on("end", resolve);
    res.on("close", () =>
      res.complete || signal.aborted ? resolve() : reject(new Error(`the watch of ${path} was cut off`)),
    );
    res.on("error", (error) => (signal.aborted ? resolve() : reject(error)));
  });
}

/** Parses one event line and hands it on; false when the line or its handler failed and the stream was destroyed. */
function deliverLine<T>(
  res: IncomingMessage,
  path: string,
  line: string,
  onEvent: (event: WatchEvent<T>) => void,
): boolean {
  let event: WatchEvent<T>;
  try {
    event = JSON.parse(withoutManagedFields(line)) as WatchEvent<T>;
  } catch (error) {
    res.destroy(new Error(`unreadable watch event from ${path}: ${line.slice(0, 200)}`, { cause: error }));
    return false;
  }
  try {
    onEvent(event);
  } catch (error) {
    res.destroy(error instanceof Error ? error : new Error(String(error)));
    return false;
  }
  return true;
}
