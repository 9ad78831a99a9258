import { Agent, request, type RequestOptions } from "node:https";
import { request as httpRequest } from "node:http";
import { ApiException, type KubeConfig } from "@kubernetes/client-node";

export type Query = Record<string, string | number | boolean | undefined>;

export interface KubeRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Query;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

/**
 * A small HTTP client for the API server that reuses one keep-alive connection pool: client-node 1.x builds a new
 * https.Agent (a new TLS connection) per request, which is slow and leaks descriptors under load. Credentials and
 * TLS settings still come from the KubeConfig on every request (token files may rotate). Errors are client-node's
 * ApiException so callers classify one error type.
 */
export class KubeHttp {
  private agent?: Agent;

  constructor(readonly kubeConfig: KubeConfig) {}

  async request<T>(req: KubeRequest): Promise<T> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig has no current cluster");
    const url = new URL(cluster.server + req.path);
    for (const [key, value] of Object.entries(req.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const options: RequestOptions = { method: req.method, headers: { Accept: "application/json" } };
    await this.kubeConfig.applyToHTTPSOptions(options);
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
    if (payload !== undefined) {
      options.headers = { ...options.headers, "Content-Type": req.contentType ?? "application/json" };
    }
    if (url.protocol === "https:") options.agent = this.sharedAgent(options);
    else delete options.agent;
    const { status, body } = await send(url, options, payload, req.timeoutMs ?? 30_000);
    if (status < 200 || status >= 300) {
      throw new ApiException(status, `${req.method} ${req.path} answered ${status}: ${statusMessage(body)}`, body, {});
    }
    return (body ? JSON.parse(body) : undefined) as T;
  }

  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  private sharedAgent(options: RequestOptions): Agent {
    this.agent ??= new Agent({
      keepAlive: true,
      maxSockets: 32,
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      rejectUnauthorized: options.rejectUnauthorized ?? this.kubeConfig.getCurrentCluster()?.skipTLSVerify !== true,
      servername: options.servername,
    });
    return this.agent;
  }
}

function send(url: URL, options: RequestOptions, payload: string | undefined, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === "https:" ? request : httpRequest)(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`request to the API server timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
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
