import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { HttpProxyAgent, HttpsProxyAgent } from "hpagent";
import { proxyFromEnv } from "../runtime/proxy.js";

/**
 * What goes to Bird: one attempt of one call, its body already serialized. `headers` is the WHATWG Headers the client
 * built (openapi-fetch merges them), read here as name/value pairs.
 */
export interface BirdHttpRequest {
  method: string;
  url: string;
  headers: Headers;
  body?: Uint8Array | string;
  signal: AbortSignal;
}

/** Sends one attempt and reads the whole answer; rejects on a network failure, a cut-off answer, or the abort. */
export type BirdSend = (request: BirdHttpRequest) => Promise<BirdResponse>;

/** A signal that never aborts, for requests built without one (one for the process, never aborted). */
const NEVER = new AbortController().signal;

/**
 * The Request openapi-fetch builds for each call (its `Request` option): the URL, method, merged Headers and the
 * serialized body, nothing more. WHATWG's Request would wrap the body in a stream only for the transport to read it
 * back; for two thousand calls a minute that was a second of CPU.
 */
export class BirdRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly signal: AbortSignal;
  /** The body as openapi-fetch serialized it (JSON text), if any. */
  readonly bodyText: string | undefined;

  constructor(
    input: string | URL | BirdRequest,
    init: {
      method?: string;
      headers?: ConstructorParameters<typeof Headers>[0];
      body?: unknown;
      signal?: AbortSignal | null;
    } = {},
  ) {
    const from = input instanceof BirdRequest ? input : undefined;
    this.url = from ? from.url : typeof input === "string" ? input : (input as URL).href;
    this.method = (init.method ?? from?.method ?? "GET").toUpperCase();
    this.headers = init.headers instanceof Headers ? init.headers : new Headers(init.headers ?? from?.headers);
    this.signal = init.signal ?? from?.signal ?? NEVER;
    if (init.body !== undefined && init.body !== null && typeof init.body !== "string")
      throw new TypeError("a Bird request body is JSON text");
    this.bodyText = (init.body as string | undefined) ?? from?.bodyText;
  }
}

/**
 * Bird's answer, read whole, with the part of the WHATWG Response that openapi-fetch and the client read: status, ok,
 * headers.get, text, json, arrayBuffer. No stream: the transport reads every answer within its attempt anyway.
 */
export class BirdResponse {
  readonly ok: boolean;
  readonly headers: Headers;
  readonly body = null;
  readonly bodyUsed = false;
  readonly redirected = false;
  readonly type = "basic";

  constructor(
    readonly status: number,
    readonly statusText: string,
    headers: AnswerHeaders,
    private readonly bytes: Uint8Array,
    readonly url = "",
  ) {
    this.ok = status >= 200 && status < 300;
    this.headers = headers as unknown as Headers;
  }

  text(): Promise<string> {
    return Promise.resolve(
      Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString("utf8"),
    );
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.resolve(this.bytes.slice().buffer);
  }
}

/** Read-only headers of an answer, by lower-case name, with the lookups callers make (get, has, iteration). */
export class AnswerHeaders {
  private readonly values: Map<string, string>;

  constructor(entries: Iterable<[string, string]>) {
    this.values = new Map([...entries].map(([name, value]) => [name.toLowerCase(), value]));
  }

  static fromNode(headers: IncomingHttpHeaders): AnswerHeaders {
    const entries: [string, string][] = [];
    for (const [name, value] of Object.entries(headers))
      if (value !== undefined) entries.push([name, Array.isArray(value) ? value.join(", ") : value]);
    return new AnswerHeaders(entries);
  }

  get(name: string): string | null {
    return this.values.get(name.toLowerCase()) ?? null;
  }

  has(name: string): boolean {
    return this.values.has(name.toLowerCase());
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (const [name, value] of this.values) callback(value, name);
  }

  entries(): IterableIterator<[string, string]> {
    return this.values.entries();
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.values.entries();
  }
}

/**
 * The most of one answer that is read (and held): Bird's largest documented answer, a page of 99 numbers, is tens of
 * kilobytes. An endless or huge answer (a wrong URL, a broken proxy) fails the call instead of the operator's memory.
 */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/**
 * Bird over Node's own HTTP client, with keep-alive pools: direct, or tunnelled (CONNECT) through the proxy the
 * environment names for the URL (HTTPS_PROXY / HTTP_PROXY unless NO_PROXY matches, src/runtime/proxy.ts, the rules
 * the API server connection follows too). No pool limit, as fetch had none: the rate limiter paces the calls, and a
 * call queued behind slow ones would spend its own timeout waiting for a socket.
 */
export function createHttpSend(env: NodeJS.ProcessEnv = process.env, maxAnswerBytes = MAX_ANSWER_BYTES): BirdSend {
  const agentFor = agentPools(env);
  return (request) =>
    new Promise<BirdResponse>((resolve, reject) => {
      const url = new URL(request.url);
      if (url.protocol !== "https:" && url.protocol !== "http:")
        throw new TypeError(`Bird's URL must be http or https, got ${url.protocol}`);
      const headers: Record<string, string> = {};
      request.headers.forEach((value, name) => (headers[name] = value));
      const body = typeof request.body === "string" ? Buffer.from(request.body) : request.body;
      // A POST without a body (cancelling a subscription) says so, rather than going out chunked, as fetch sent it.
      if (body !== undefined || (request.method !== "GET" && request.method !== "HEAD"))
        headers["content-length"] = String(body?.byteLength ?? 0);
      const send = url.protocol === "https:" ? httpsRequest : httpRequest;
      const outgoing = send(url, { method: request.method, headers, agent: agentFor(url), signal: request.signal });
      outgoing.on("error", reject);
      outgoing.on("response", (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size <= maxAnswerBytes) return void chunks.push(chunk);
          chunks.length = 0;
          reject(new Error(`Bird's answer is larger than ${maxAnswerBytes} bytes; it was not read`));
          res.destroy();
        });
        res.on("error", reject);
        res.on("end", () => {
          const headers = AnswerHeaders.fromNode(res.headers);
          const status = res.statusCode ?? 0;
          resolve(new BirdResponse(status, res.statusMessage ?? "", headers, Buffer.concat(chunks), request.url));
        });
        res.on("close", () => res.complete || reject(new Error("Bird's answer was cut off")));
      });
      outgoing.end(body);
    });
}

/** Keep-alive pools: one per scheme for direct connections, one per scheme and proxy for tunnelled ones. */
function agentPools(env: NodeJS.ProcessEnv): (url: URL) => HttpAgent {
  const direct = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  const viaProxy = new Map<string, HttpAgent>();
  return (url) => {
    const https = url.protocol === "https:";
    const proxy = proxyFromEnv(url, env);
    if (!proxy) return https ? direct.https : direct.http;
    const key = `${https ? "https" : "http"} ${proxy}`;
    let agent = viaProxy.get(key);
    if (!agent) {
      agent = https ? new HttpsProxyAgent({ proxy, keepAlive: true }) : new HttpProxyAgent({ proxy, keepAlive: true });
      viaProxy.set(key, agent);
    }
    return agent;
  };
}

/**
 * A WHATWG fetch as the sender: what tests inject (a fake Bird) and what `bird-operator plan` wraps. The answer is
 * read whole; a body fetch decoded loses its content-encoding.
 */
export function fetchSend(fetch: (request: Request) => Promise<Response>): BirdSend {
  return async (request) => {
    const response = await fetch(
      new Request(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: request.signal,
      }),
    );
    const bytes = new Uint8Array(await response.arrayBuffer());
    const entries = [...response.headers].filter(([name]) => name !== "content-encoding" && name !== "content-length");
    const headers = new AnswerHeaders([...entries, ["content-length", String(bytes.byteLength)]]);
    return new BirdResponse(response.status, response.statusText, headers, bytes, response.url);
  };
}

let shared: BirdSend | undefined;

/** One set of connection pools for every workspace's client in the process. */
export function sharedHttpSend(): BirdSend {
  return (shared ??= createHttpSend());
}
