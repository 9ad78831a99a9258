import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReadOnlyKubeHttp, readOnlySend, WriteRefused } from "../../src/plan/read-only.js";
import { AnswerHeaders, BirdResponse } from "../../src/bird/http-send.js";

/**
 * The plan's clients refuse writes themselves, before anything leaves the process, whatever the caller's RBAC allows.
 */
describe("read-only clients", () => {
  let server: Server;
  const seen: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://api");
      seen.push(
        `${req.method} ` +
          `${url.pathname}${url.searchParams.has("dryRun") ? ` dryRun=${url.searchParams.get("dryRun")}` : ""}`,
      );
      res.setHeader("Content-Type", "application/json");
      res.end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("lets reads and dry runs reach the API server and refuses every other write", async () => {
    const { port } = server.address() as AddressInfo;
    const http = new ReadOnlyKubeHttp({
      server: `http://127.0.0.1:${port}`,
      source: "test",
      requestOptions: () => Promise.resolve({ rejectUnauthorized: true, headers: {} }),
    });
    seen.length = 0;
    try {
      await http.request({ method: "GET", path: "/api/v1/namespaces" });
      await http.request({
        method: "PATCH",
        path: "/apis/g/v1/namespaces/a/phonenumbers/x",
        query: { dryRun: "All" },
        body: {},
      });
      await http.request({
        method: "DELETE",
        path: "/apis/g/v1/namespaces/a/phonenumbers/x",
        query: { dryRun: "All" },
      });
      for (const method of ["POST", "PUT", "PATCH", "DELETE"] as const) {
        await expect(
          http.request({ method, path: "/apis/g/v1/namespaces/a/phonenumbers/x", body: {} }),
        ).rejects.toThrow(WriteRefused);
        await expect(
          http.request({ method, path: "/apis/g/v1/namespaces/a/phonenumbers/x", query: { dryRun: "true" }, body: {} }),
        ).rejects.toThrow(WriteRefused);
      }
    } finally {
      http.close();
    }
    expect(seen).toEqual([
      "GET /api/v1/namespaces",
      "PATCH /apis/g/v1/namespaces/a/phonenumbers/x dryRun=All",
      "DELETE /apis/g/v1/namespaces/a/phonenumbers/x dryRun=All",
    ]);
  });

  it(
    "lets GETs and validate-only activations reach Bird " +
      "and refuses buys, activations, deactivations and cancellations",
    async () => {
      const sent: string[] = [];
      const send = readOnlySend((request) => {
        sent.push(`${request.method} ${new URL(request.url).pathname}${new URL(request.url).search}`);
        return Promise.resolve(new BirdResponse(200, "OK", new AnswerHeaders([]), Buffer.from("{}")));
      });
      const signal = new AbortController().signal;
      const fetch = (url: string, init: { method?: string; body?: string } = {}): Promise<BirdResponse> =>
        send({ url, method: init.method ?? "GET", headers: new Headers(), body: init.body, signal });
      const base = "https://api.bird.test/workspaces/w";
      await fetch(`${base}/numbers-long-code?limit=99`);
      await fetch(`${base}/endpoints/e/destinations/activate?validate=true`, { method: "POST", body: "{}" });
      const writes = [
        `${base}/numbers-long-code`,
        `${base}/endpoints/e/destinations/activate`,
        `${base}/endpoints/e/destinations/activate?validate=false`,
        `${base}/endpoints/e/destinations/deactivate?validate=true`,
        `${base}/endpoints/e/subscriptions/main/cancel?validate=true`,
      ];
      for (const url of writes) await expect(fetch(url, { method: "POST", body: "{}" })).rejects.toThrow(WriteRefused);
      await expect(fetch(`${base}/numbers-long-code/x`, { method: "DELETE" })).rejects.toThrow(WriteRefused);
      expect(sent).toEqual([
        "GET /workspaces/w/numbers-long-code?limit=99",
        "POST /workspaces/w/endpoints/e/destinations/activate?validate=true",
      ]);
    },
  );
});
