import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BirdRequest, createHttpSend, type BirdHttpRequest } from "../../src/bird/http-send.js";
import { eventually } from "../support/fixtures.js";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

let server: Server | undefined;

async function serve(handler: Handler): Promise<string> {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => handler(req, Buffer.concat(chunks).toString("utf8"), res));
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

const request = (url: string, init: Partial<BirdHttpRequest> = {}): BirdHttpRequest => ({
  method: "GET",
  url,
  headers: new Headers(),
  signal: AbortSignal.timeout(5_000),
  ...init,
});

describe("Bird over Node's HTTP client (createHttpSend)", () => {
  it("sends method, headers and the body with its length, and reads status, headers and body back", async () => {
    const seen: { method?: string; headers?: IncomingMessage["headers"]; body?: string }[] = [];
    const base = await serve((req, body, res) => {
      seen.push({ method: req.method, headers: req.headers, body });
      res.writeHead(201, { "content-type": "application/json", "retry-after": "3" });
      res.end(JSON.stringify({ id: "n-1", note: "é" }));
    });
    const headers = new Headers({ Authorization: "AccessKey k", "Content-Type": "application/json" });
    const answer = await createHttpSend({})(
      request(`${base}/workspaces/w/numbers-long-code?limit=5`, { method: "POST", headers, body: '{"a":"é"}' }),
    );
    expect([answer.status, answer.ok, answer.headers.get("Retry-After")]).toEqual([201, true, "3"]);
    expect(await answer.json()).toEqual({ id: "n-1", note: "é" });
    expect(seen[0]?.method).toBe("POST");
    expect(seen[0]?.headers?.authorization).toBe("AccessKey k");
    expect(seen[0]?.headers?.["content-length"]).toBe(String(Buffer.byteLength('{"a":"é"}')));
    expect(seen[0]?.body).toBe('{"a":"é"}');
    await createHttpSend({})(request(`${base}/x/cancel`, { method: "POST" }));
    expect([seen[1]?.headers?.["content-length"], seen[1]?.headers?.["transfer-encoding"]]).toEqual(["0", undefined]);
  });

  it("rejects an answer cut off in the middle of its body (a network failure, not a short answer)", async () => {
    const base = await serve((_req, _body, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.write('{"results": [');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    await expect(createHttpSend({})(request(`${base}/x`))).rejects.toThrow();
  });

  it("refuses an answer larger than the cap without holding it, and stops reading it", async () => {
    let stopped = false;
    const base = await serve((_req, _body, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      // An endless answer: written until the client goes away.
      const more = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once("drain", more);
      };
      res.on("close", () => (stopped = true));
      more();
    });
    await expect(createHttpSend({}, 1024 * 1024)(request(`${base}/x`))).rejects.toThrow(/larger than 1048576 bytes/);
    await eventually("the server sees the answer abandoned", async () => (stopped ? true : undefined), 5000);
    // Within the cap, the same size is read whole.
    const small = await serve((_req, _body, res) => res.end(" ".repeat(1024 * 1024)));
    expect((await (await createHttpSend({}, 1024 * 1024)(request(`${small}/x`))).text()).length).toBe(1024 * 1024);
  });

  it("gives up on the caller's abort while waiting for the answer", async () => {
    const base = await serve(() => undefined);
    const controller = new AbortController();
    const pending = createHttpSend({})(request(`${base}/x`, { signal: controller.signal }));
    setTimeout(() => controller.abort(new Error("deadline")), 30);
    await expect(pending).rejects.toThrow();
  });

  it("keeps the connection alive between calls", async () => {
    const ports = new Set<number>();
    const base = await serve((req, _body, res) => {
      ports.add(req.socket.remotePort ?? 0);
      res.end("{}");
    });
    const send = createHttpSend({});
    for (let i = 0; i < 5; i++) await (await send(request(`${base}/x`))).text();
    expect(ports.size).toBe(1);
  });
});

describe("BirdRequest (openapi-fetch's Request)", () => {
  it("keeps the URL, the upper-cased method, the headers it is given and the JSON text", () => {
    const headers = new Headers({ accept: "application/json" });
    const req = new BirdRequest(new URL("https://api.bird.com/x?y=1"), { method: "post", headers, body: "{}" });
    expect([req.url, req.method, req.headers, req.bodyText, req.signal.aborted]).toEqual([
      "https://api.bird.com/x?y=1",
      "POST",
      headers,
      "{}",
      false,
    ]);
    expect(() => new BirdRequest("https://api.bird.com/x", { body: new Uint8Array(1) })).toThrow(/JSON text/);
  });
});
