import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in for Bird's key management in front of the simulator: it decides which AccessKeys are valid (so a key
 * can be rotated, both keys valid for a while, then the old one revoked), forwards accepted requests with the
 * simulator's own key, and counts requests per key. Its 401s echo the key they refused, as a careless API might:
 * the operator must not carry that text anywhere.
 */
export class KeyGateway {
  readonly accepted = new Set<string>();
  private readonly uses = new Map<string, { count: number; last: number }>();
  private server?: Server;
  url = "";

  constructor(
    private readonly upstream: string,
    private readonly upstreamKey: string,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const key = /^AccessKey\s+(\S+)/i.exec(req.headers.authorization ?? "")?.[1] ?? "";
        const use = this.uses.get(key) ?? { count: 0, last: 0 };
        this.uses.set(key, { count: use.count + 1, last: Date.now() });
        if (!this.accepted.has(key)) {
          const body = JSON.stringify({ code: "unauthorized", message: `Invalid access key ${key}` });
          res
            .writeHead(401, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
            .end(body);
          return;
        }
        const headers = new Headers();
        for (const [name, value] of Object.entries(req.headers))
          if (typeof value === "string" && !["host", "connection", "content-length"].includes(name))
            headers.set(name, value);
        headers.set("authorization", `AccessKey ${this.upstreamKey}`);
        const body = chunks.length ? Buffer.concat(chunks) : undefined;
        fetch(`${this.upstream}${req.url ?? "/"}`, { method: req.method, headers, body })
          .then(async (answer) => {
            const text = Buffer.from(await answer.arrayBuffer());
            res
              .writeHead(answer.status, {
                "content-type": answer.headers.get("content-type") ?? "application/json",
                "content-length": text.length,
              })
              .end(text);
          })
          .catch(() => req.socket.destroy());
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Requests that presented `key`, and when the last one came. */
  usesOf(key: string): { count: number; last: number } {
    return this.uses.get(key) ?? { count: 0, last: 0 };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }
}
