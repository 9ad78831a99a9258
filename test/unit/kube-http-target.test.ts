import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { KubeHttp } from "../../src/runtime/kube-http.js";

describe("KubeHttp: where a request goes", () => {
  it("keeps the server URL's own path, adds fieldManager to writes, and encodes the query", async () => {
    const seen: string[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      req.on("end", () => res.end("{}"));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const http = new KubeHttp({
      server: `http://127.0.0.1:${port}/k8s/clusters/c-1/`,
      source: "test",
      requestOptions: () => Promise.resolve({ rejectUnauthorized: true, headers: {} }),
    });
    try {
      await http.request({
        method: "GET",
        path: "/api/v1/namespaces",
        query: { labelSelector: "team in (a,b)", x: 1 },
      });
      await http.request({ method: "PATCH", path: "/api/v1/namespaces/a", query: { dryRun: "All" }, body: {} });
      await http.request({ method: "DELETE", path: "/api/v1/namespaces/a?propagationPolicy=Background" });
    } finally {
      http.close();
      server.close();
    }
    expect(seen).toEqual([
      "GET /k8s/clusters/c-1/api/v1/namespaces?labelSelector=team%20in%20(a%2Cb)&x=1",
      "PATCH /k8s/clusters/c-1/api/v1/namespaces/a?fieldManager=bird-operator&dryRun=All",
      "DELETE /k8s/clusters/c-1/api/v1/namespaces/a?propagationPolicy=Background",
    ]);
  });
});
