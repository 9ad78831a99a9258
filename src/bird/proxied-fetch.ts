import { Agent, fetch as undiciFetch, ProxyAgent, type Dispatcher } from "undici";
import { proxyFromEnv } from "../runtime/proxy.js";

export type FetchRequest = (request: Request) => Promise<Response>;

/**
 * The fetch Bird requests go out through unless a test injects another: Node's own fetch ignores HTTPS_PROXY and
 * NO_PROXY, so this one picks, per request, a direct connection pool or one tunnelling through the proxy the
 * environment names for the URL (the rules of src/runtime/proxy.ts, which the API server connection follows too).
 */
export function createProxiedFetch(env: NodeJS.ProcessEnv = process.env): FetchRequest {
  const direct = new Agent();
  const proxies = new Map<string, ProxyAgent>();
  const dispatcherFor = (url: URL): Dispatcher => {
    const proxy = proxyFromEnv(url, env);
    if (!proxy) return direct;
    let agent = proxies.get(proxy);
    if (!agent) proxies.set(proxy, (agent = new ProxyAgent(proxy)));
    return agent;
  };
  return async (request) => {
    const body = request.body === null ? undefined : await request.arrayBuffer();
    return undiciFetch(request.url, {
      method: request.method,
      headers: [...request.headers],
      body,
      signal: request.signal,
      dispatcher: dispatcherFor(new URL(request.url)),
    });
  };
}

let shared: FetchRequest | undefined;

/** One set of connection pools for every workspace's client in the process. */
export function proxiedFetch(): FetchRequest {
  return (shared ??= createProxiedFetch());
}
