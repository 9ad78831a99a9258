import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpSend, type BirdHttpRequest } from "../../src/bird/http-send.js";
import { loadKubeConnection } from "../../src/runtime/kube-config.js";
import { KubeHttp } from "../../src/runtime/kube-http.js";
import { startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { FIELD_MANAGER, USER_AGENT, VERSION } from "../../src/version.js";
import { testCluster } from "../helpers/cluster.js";
import { apply, createFixture, type Fixture } from "../support/fixtures.js";
import { startTestOperator } from "../helpers/operator.js";
import { OperatorProcess } from "../support/operator-process.js";
import { startConnectProxy, startRecordingFront, type ConnectProxy, type RecordingFront } from "../helpers/proxies.js";

const cluster = testCluster();

interface AdminKubeconfig {
  clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
  users: { user: { token: string } }[];
}

const admin = (): { server: URL; ca: string; token: string } => {
  const raw = JSON.parse(readFileSync(cluster.kubeconfigPath, "utf8")) as AdminKubeconfig;
  return {
    server: new URL(raw.clusters[0]!.cluster.server),
    ca: raw.clusters[0]!.cluster["certificate-authority-data"],
    token: raw.users[0]!.user.token,
  };
};

/** A kubeconfig for the test API server with another server URL and, optionally, a proxy-url. */
const kubeconfigFor = (dir: string, server: string, proxyUrl?: string): string => {
  const { ca, token } = admin();
  const path = join(dir, `kubeconfig-${Math.random().toString(36).slice(2, 8)}`);
  const cluster = { server, "certificate-authority-data": ca, ...(proxyUrl ? { "proxy-url": proxyUrl } : {}) };
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster }],
      users: [{ name: "u", user: { token } }],
      contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
      "current-context": "c",
    }),
    { mode: 0o600 },
  );
  return path;
};

/** `phonenumbers/status` for /apis/numbers.birdoperator.dev/v1alpha1/namespaces/ns/phonenumbers/x/status. */
const resourceOf = (path: string): string => {
  const parts = path.split("/").filter(Boolean);
  const rest = parts[0] === "api" ? parts.slice(2) : parts.slice(3);
  const inNamespace = rest[0] === "namespaces" && rest.length > 2 ? rest.slice(2) : rest;
  return [inNamespace[0], inNamespace[2]].filter(Boolean).join("/");
};

const phoneNumber = (fixture: Fixture, name: string): Record<string, unknown> => ({
  apiVersion: "numbers.birdoperator.dev/v1alpha1",
  kind: "PhoneNumber",
  metadata: { name, namespace: fixture.namespace },
  spec: {
    workspaceRef: { name: fixture.workspace },
    countryCode: "US",
    type: "local",
    destinations: [{ capability: "sms", countryCodes: ["US"] }],
  },
});

/**
 * Every request names the operator (User-Agent `bird-operator/<version>`, to the API server and to Bird), every API
 * server write its field manager, and both connections go through the proxy the kubeconfig or the environment names.
 */
describe("Kubernetes manners", () => {
  let sim: RunningSimulator;
  let dir: string;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    dir = mkdtempSync(join(tmpdir(), "manners-test-"));
  });

  afterAll(async () => {
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe("field manager and User-Agent on every API server request", () => {
    let front: RecordingFront;
    let fixture: Fixture;

    beforeAll(async () => {
      const { server, ca } = admin();
      front = await startRecordingFront(server.toString(), Buffer.from(ca, "base64"));
      fixture = await createFixture(cluster, sim.url);
    });

    afterAll(async () => {
      await front?.close();
    });

    it(
      "sends fieldManager=bird-operator with every create, update and patch, " + "and the User-Agent with everything",
      async () => {
        const operator = await startTestOperator({
          kubeconfigPath: kubeconfigFor(dir, front.url),
          namespace: fixture.namespace,
          workspaceSelector: fixture.selector,
          overrides: {
            leaderElection: {
              enabled: true,
              leaseName: "manners",
              leaseNamespace: fixture.namespace,
              identity: "manners-test",
              leaseDurationMs: 15_000,
              renewDeadlineMs: 10_000,
              retryPeriodMs: 2_000,
            },
          },
        });
        try {
          await apply(cluster, phoneNumber(fixture, "managed"));
          await cluster.kubectl([
            "wait",
            "--for=condition=Ready",
            "phonenumber/managed",
            "-n",
            fixture.namespace,
            "--timeout=60s",
          ]);
          await cluster.kubectl(["delete", "phonenumber", "managed", "-n", fixture.namespace, "--timeout=60s"]);
        } finally {
          await operator.stop();
        }

        expect(front.requests.length).toBeGreaterThan(0);
        expect(new Set(front.requests.map((r) => r.headers["user-agent"]))).toEqual(
          new Set([`bird-operator/${VERSION}`]),
        );
        const writes = front.requests.filter((r) => ["POST", "PUT", "PATCH"].includes(r.method));
        // Each kind of write the operator makes: leader election, events, status, finalizers and annotations.
        const made = new Set(writes.map((r) => `${r.method} ${resourceOf(r.path)}`));
        for (const write of [
          "POST leases",
          "PUT leases",
          "POST events",
          "PATCH phonenumbers/status",
          "PATCH birdworkspaces/status",
        ])
          expect(made).toContain(write);
        expect(made.has("PUT phonenumbers") || made.has("PATCH phonenumbers")).toBe(true);
        expect(
          writes.filter((r) => r.query.get("fieldManager") !== FIELD_MANAGER).map((r) => `${r.method} ${r.path}`),
        ).toEqual([]);
        const deletes = front.requests.filter((r) => r.method === "DELETE");
        expect(deletes.every((r) => !r.query.has("fieldManager"))).toBe(true);
      },
    );
  });

  describe("proxies", () => {
    let proxy: ConnectProxy;
    // Names that resolve only inside the proxy: a request to them succeeds only through it. kubernetes.default.svc is
    // in the test API server's certificate, as in a real cluster.
    const KUBE_HOST = "kubernetes.default.svc";
    const BIRD_HOST = "bird.test";

    beforeAll(async () => {
      proxy = await startConnectProxy({ [KUBE_HOST]: "127.0.0.1", [BIRD_HOST]: "127.0.0.1" });
    });

    afterAll(async () => {
      await proxy?.close();
    });

    const viaProxyName = (): string => `https://${KUBE_HOST}:${admin().server.port}`;

    it("the kubeconfig's proxy-url carries the API server connection", async () => {
      const before = proxy.connects.length;
      const connection = await loadKubeConnection({ path: kubeconfigFor(dir, viaProxyName(), proxy.url), env: {} });
      expect(connection.proxy).toBe(proxy.url);
      const http = new KubeHttp(connection);
      try {
        const version = await http.request<{ gitVersion: string }>({ method: "GET", path: "/version" });
        expect(version.gitVersion).toMatch(/^v1\./);
      } finally {
        http.close();
      }
      expect(proxy.connects.slice(before)).toEqual([`${KUBE_HOST}:${admin().server.port}`]);
    });

    it("NO_PROXY sends the API server connection and Bird requests direct", async () => {
      const env = { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: `.svc,${BIRD_HOST}` };
      const before = proxy.connects.length;
      const connection = await loadKubeConnection({ path: kubeconfigFor(dir, viaProxyName()), env });
      expect(connection.proxy).toBeUndefined();
      const http = new KubeHttp(connection);
      try {
        await expect(http.request({ method: "GET", path: "/version" })).rejects.toThrow(/ENOTFOUND|EAI_AGAIN/);
      } finally {
        http.close();
      }
      const birdUrl = `http://${BIRD_HOST}:${new URL(sim.url).port}/`;
      const get: BirdHttpRequest = {
        method: "GET",
        url: birdUrl,
        headers: new Headers(),
        signal: AbortSignal.timeout(10_000),
      };
      await expect(createHttpSend(env)(get)).rejects.toThrow();
      expect(proxy.connects.length).toBe(before);
      const proxied = await createHttpSend({ HTTP_PROXY: proxy.url })(get);
      expect(proxied.status).toBeGreaterThan(0);
      expect(proxy.connects.slice(before)).toEqual([`${BIRD_HOST}:${new URL(sim.url).port}`]);
    });

    describe("HTTPS_PROXY and HTTP_PROXY for the whole operator process", () => {
      let operator: OperatorProcess | undefined;
      let fixture: Fixture;

      beforeAll(async () => {
        fixture = await createFixture(cluster, `http://${BIRD_HOST}:${new URL(sim.url).port}`);
      });

      afterAll(async () => {
        await operator?.kill("SIGTERM");
      });

      it("reaches the API server and Bird only through the proxy, and tells Bird who it is", async () => {
        const before = proxy.connects.length;
        const seenBefore = proxy.tunnelled().length;
        const started = new OperatorProcess({
          args: [
            `--kubeconfig=${kubeconfigFor(dir, viaProxyName())}`,
            `--namespaces=${fixture.namespace}`,
            `--operator-namespace=${fixture.namespace}`,
            `--workspace-selector=${fixture.selector}`,
            "--no-leader-elect",
          ],
          env: { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: "" },
        });
        operator = started;
        await started.started;
        await apply(cluster, phoneNumber(fixture, "proxied"));
        await cluster
          .kubectl(["wait", "--for=condition=Ready", "phonenumber/proxied", "-n", fixture.namespace, "--timeout=60s"])
          .catch((error: Error) => {
            throw new Error(`${error.message}\n${operator?.output().slice(-3000)}`);
          });
        const targets = new Set(proxy.connects.slice(before));
        expect(targets).toEqual(
          new Set([`${KUBE_HOST}:${admin().server.port}`, `${BIRD_HOST}:${new URL(sim.url).port}`]),
        );
        const userAgents = [
          ...proxy
            .tunnelled()
            .slice(seenBefore)
            .matchAll(/^user-agent: (.*)\r$/gim),
        ].map((m) => m[1]);
        expect(userAgents.length).toBeGreaterThan(0);
        expect(new Set(userAgents)).toEqual(new Set([USER_AGENT]));
      });
    });
  });
});
