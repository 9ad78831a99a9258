import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Reply } from "./api-routes.js";
import { answerControlRequest } from "./control-routes.js";
import { answerApiRequest, type Outcome } from "./pipeline.js";
import { Simulator } from "./simulator.js";
import type { SimulatorOptions } from "./types.js";

export interface RunningSimulator {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  sim: Simulator;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** A body cut in half: valid UTF-8, never valid JSON, with a Content-Length that matches so clients read it all. */
function truncated(text: string): string {
  return text.slice(0, Math.max(1, Math.floor(text.length / 2)));
}

function recordedBody(method: string, rawBody: string): unknown {
  if (method !== "POST" && method !== "PUT") return undefined;
  try {
    return rawBody === "" ? undefined : (JSON.parse(rawBody) as unknown);
  } catch {
    return rawBody.slice(0, 2000);
  }
}

function deliver(sim: Simulator, req: IncomingMessage, res: ServerResponse, outcome: Outcome): void {
  if (outcome.operation) sim.checkResponse(outcome.operation, outcome.status, outcome.body);
  if (outcome.fault === "reset") {
    req.socket.destroy();
    return;
  }
  const text = JSON.stringify(outcome.body);
  sendJson(res, outcome.status, outcome.fault === "malformed" ? truncated(text) : text);
}

async function handleApi(
  sim: Simulator,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  rawBody: string,
): Promise<void> {
  const started = Date.now();
  const method = req.method ?? "GET";
  const outcome = await answerApiRequest(sim, { method, url, authorization: req.headers.authorization, rawBody });
  deliver(sim, req, res, outcome);
  const route = outcome.operation?.template ?? "unmatched";
  const status = outcome.fault === "reset" ? 0 : outcome.status;
  const durationMs = Date.now() - started;
  sim.callRecorder.record({
    time: new Date(started).toISOString(),
    method,
    route,
    path: url.pathname + url.search,
    status,
    durationMs,
    ...(outcome.fault ? { fault: outcome.fault } : {}),
    ...(method === "POST" ? { body: recordedBody(method, rawBody) } : {}),
  });
  sim.logger.debug({ method, route, status, durationMs, fault: outcome.fault }, "Answered Bird API call");
}

async function handle(sim: Simulator, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://simulator");
  const rawBody = await readBody(req);
  if (url.pathname === "/_simulator" || url.pathname.startsWith("/_simulator/")) {
    const reply: Reply = answerControlRequest(sim, req.method ?? "GET", url, rawBody);
    sendJson(res, reply.status, JSON.stringify(reply.body));
    return;
  }
  await handleApi(sim, req, res, url, rawBody);
}

function serve(sim: Simulator): Server {
  return createServer((req, res) => {
    handle(sim, req, res).catch((error: unknown) => {
      sim.logger.error({ err: error, url: req.url }, "Simulator request failed");
      if (!res.headersSent)
        sendJson(res, 500, JSON.stringify({ code: "internal-error", message: "Simulator failure" }));
      else res.destroy();
    });
  });
}

/** Starts a simulator on loopback; `port: 0` (the default) picks a free port, reported in `port` and `url`. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const sim = new Simulator(options);
  const server = serve(sim);
  if (options.keepAliveMs !== undefined) server.keepAliveTimeout = options.keepAliveMs;
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    sim,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
