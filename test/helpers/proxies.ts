import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, type AddressInfo, type Socket } from "node:net";

export interface ConnectProxy {
  url: string;
  /** `host:port` of every CONNECT, in order. */
  connects: string[];
  /** What clients sent through plaintext (http://) tunnels: request lines and headers are readable there. */
  tunnelled(): string;
  close(): Promise<void>;
}

/**
 * A forward proxy on loopback that only tunnels (CONNECT), as corporate proxies do. Names in `hosts` resolve to the
 * given address here and nowhere else, so a request to such a name succeeds only if it went through this proxy.
 */
export async function startConnectProxy(hosts: Record<string, string>): Promise<ConnectProxy> {
  const connects: string[] = [];
  let plaintext = "";
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => res.writeHead(405).end("CONNECT only\n"));
  server.on("connect", (req, client: Socket, head: Buffer) => {
    const target = req.url ?? "";
    connects.push(target);
    const [host = "", port = ""] = target.split(/:(?=\d+$)/);
    const upstream = connect(Number(port), hosts[host] ?? host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
    }
    upstream.once("connect", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      client.on("data", (chunk: Buffer) => {
        if (chunk[0] !== 0x16 && plaintext.length < 1_000_000) plaintext += chunk.toString("latin1");
      });
      client.pipe(upstream).pipe(client);
    });
    upstream.once("error", () => client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n"));
  });
  const url = await listen(server);
  return {
    url,
    connects,
    tunnelled: () => plaintext,
    close: () => close(server, sockets),
  };
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

export interface RecordingFront {
  /** A plain http:// URL to give clients instead of the API server's. */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** A plain-HTTP reverse proxy in front of the API server that records every request, watches included. */
export async function startRecordingFront(upstream: string, ca: Buffer): Promise<RecordingFront> {
  const requests: RecordedRequest[] = [];
  const target = new URL(upstream);
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://front");
    requests.push({ method: req.method ?? "", path: url.pathname, query: url.searchParams, headers: req.headers });
    const forwarded = httpsRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
        ca,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on("error", () => res.destroy());
    res.on("close", () => forwarded.destroy());
    req.pipe(forwarded);
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return { url: await listen(server), requests, close: () => close(server, sockets) };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
