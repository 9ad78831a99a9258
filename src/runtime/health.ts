import { createServer, type Server } from "node:http";
import type { Metrics } from "./metrics.js";

export interface HealthChecks {
  /** Liveness: the process and its event loop work. */
  healthy: () => boolean;
  /** Readiness: caches have synced. */
  ready: () => boolean;
}

/** Serves /metrics, /healthz and /readyz. Metrics and probes may share one address or use two. */
export class HealthServer {
  private readonly servers: Server[] = [];

  constructor(
    private readonly metrics: Metrics,
    private readonly checks: HealthChecks,
  ) {}

  async listen(addresses: { metrics: string; health: string }): Promise<{ metrics: string; health: string }> {
    if (addresses.metrics === addresses.health) {
      const bound = await this.serve(addresses.metrics);
      return { metrics: bound, health: bound };
    }
    return { metrics: await this.serve(addresses.metrics), health: await this.serve(addresses.health) };
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    for (const server of this.servers) server.closeAllConnections();
  }

  private async serve(address: string): Promise<string> {
    const { host, port } = parseAddress(address);
    const server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/metrics") {
        this.metrics.registry
          .metrics()
          .then((text) => {
            res.writeHead(200, { "Content-Type": this.metrics.registry.contentType });
            res.end(text);
          })
          .catch((error: unknown) => {
            res.writeHead(500);
            res.end(String(error));
          });
        return;
      }
      const check =
        path === "/healthz" || path === "/livez"
          ? this.checks.healthy
          : path === "/readyz"
            ? this.checks.ready
            : undefined;
      if (!check) {
        res.writeHead(404).end("not found\n");
        return;
      }
      const ok = check();
      res.writeHead(ok ? 200 : 503, { "Content-Type": "text/plain" }).end(ok ? "ok\n" : "not ready\n");
    });
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    const bound = server.address();
    return typeof bound === "object" && bound ? `${host}:${bound.port}` : address;
  }
}

/** `:8080`, `0.0.0.0:8080` or `127.0.0.1:0`. */
export function parseAddress(address: string): { host: string; port: number } {
  const index = address.lastIndexOf(":");
  const host = index > 0 ? address.slice(0, index) : "0.0.0.0";
  const port = Number(address.slice(index + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`invalid address "${address}": expected host:port`);
  return { host, port };
}
