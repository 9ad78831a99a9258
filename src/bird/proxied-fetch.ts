import type { ProxyAgent } from "undici";
import { proxyFromEnv } from "../runtime/proxy.js";

export type FetchRequest = (request: Request) => Promise<Response>;
type ViaProxy = (request: Request, proxy: string) => Promise<Response>;

/**
 * The fetch Bird requests go out through unless a test injects another. Node's own fetch ignores HTTPS_PROXY and
 * NO_PROXY, so a request the environment sends through a proxy (the rules of src/runtime/proxy.ts, which the API
 * server connection follows too) goes through undici's ProxyAgent, one per proxy; every other request is Node's own
 * fetch with its keep-alive pool. undici is loaded only when a proxy is used: it costs about 25 MB of memory.
 */
export function createProxiedFetch(env: NodeJS.ProcessEnv = process.env): FetchRequest {
  let viaProxy: Promise<ViaProxy> | undefined;
  return async (request) => {
    const proxy = proxyFromEnv(new URL(request.url), env);
    if (!proxy) return fetch(request);
    viaProxy ??= loadViaProxy();
    return (await viaProxy)(request, proxy);
  };
}

async function loadViaProxy(): Promise<ViaProxy> {
  const undici = await import("undici");
  const agents = new Map<string, ProxyAgent>();
  return async (request, proxy) => {
    let agent = agents.get(proxy);
    if (!agent) agents.set(proxy, (agent = new undici.ProxyAgent(proxy)));
    const body = request.body === null ? undefined : await request.arrayBuffer();
    return undici.fetch(request.url, {
      method: request.method,
      headers: [...request.headers],
      body,
      signal: request.signal,
      dispatcher: agent,
    });
  };
}

let shared: FetchRequest | undefined;

/** One set of connection pools for every workspace's client in the process. */
export function proxiedFetch(): FetchRequest {
  return (shared ??= createProxiedFetch());
}
