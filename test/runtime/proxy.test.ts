import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadKubeConnection } from "../../src/runtime/kube-config.js";
import { bypassesProxy, proxyFromEnv } from "../../src/runtime/proxy.js";

const PROXY = "http://proxy.corp:3128";

describe("proxyFromEnv: Go's rules (client-go, kubectl)", () => {
  it.each([
    ["https://api.bird.com/numbers", { HTTPS_PROXY: PROXY }, PROXY],
    ["https://api.bird.com/numbers", { https_proxy: "http://other:1", HTTPS_PROXY: PROXY }, PROXY],
    ["https://api.bird.com/numbers", { https_proxy: PROXY }, PROXY],
    ["https://api.bird.com/numbers", { HTTP_PROXY: PROXY }, undefined],
    ["http://bird.test:8080/", { HTTP_PROXY: PROXY }, PROXY],
    ["http://bird.test:8080/", { HTTPS_PROXY: PROXY }, undefined],
    ["https://10.0.0.1:443", { HTTPS_PROXY: PROXY, NO_PROXY: "10.0.0.0/8" }, undefined],
    ["https://10.0.0.1:443", { HTTPS_PROXY: PROXY, no_proxy: "10.0.0.1" }, undefined],
    ["https://127.0.0.1:6443", { HTTPS_PROXY: PROXY }, undefined],
    ["https://localhost:6443", { HTTPS_PROXY: PROXY }, undefined],
    ["https://[::1]:6443", { HTTPS_PROXY: PROXY }, undefined],
    ["https://kubernetes.default.svc", { HTTPS_PROXY: PROXY, NO_PROXY: ".svc,.cluster.local" }, undefined],
  ] as const)("%s with %j -> %s", (url, env, expected) => {
    expect(proxyFromEnv(new URL(url), env)).toBe(expected);
  });
});

describe("bypassesProxy: NO_PROXY entries", () => {
  it.each([
    ["https://api.bird.com", "bird.com", true],
    ["https://bird.com", "bird.com", true],
    ["https://notbird.com", "bird.com", false],
    ["https://api.bird.com", ".bird.com", true],
    ["https://bird.com", ".bird.com", false],
    ["https://api.bird.com", "*.bird.com", true],
    ["https://API.Bird.com", "bird.com", true],
    ["https://api.bird.com", " example.org , bird.com ", true],
    ["https://api.bird.com", "bird.com:443", true],
    ["https://api.bird.com", "bird.com:8443", false],
    ["https://api.bird.com:8443", "bird.com:8443", true],
    ["https://10.1.2.3", "10.0.0.0/8", true],
    ["https://11.1.2.3", "10.0.0.0/8", false],
    ["https://[fd00::5]", "fd00::/8", true],
    ["https://[fd00::5]", "fd00::5", true],
    ["https://[fd00::5]:6443", "[fd00::5]:6443", true],
    ["https://10.1.2.3", "10.1.2", false],
    ["https://anything.example", "*", true],
    ["https://anything.example", "", false],
  ] as const)("%s, NO_PROXY=%j -> %s", (url, noProxy, expected) => {
    expect(bypassesProxy(new URL(url), noProxy)).toBe(expected);
  });
});

describe("loadKubeConnection: the API server's proxy", () => {
  const dir = mkdtempSync(join(tmpdir(), "proxy-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = (cluster: Record<string, unknown>): string => {
    const path = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`);
    writeFileSync(
      path,
      JSON.stringify({
        clusters: [{ name: "c", cluster }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
        "current-context": "c",
      }),
    );
    return path;
  };

  it("takes the kubeconfig's proxy-url over the environment", async () => {
    const path = kubeconfig({ server: "https://api.example:6443", "proxy-url": "http://from-kubeconfig:3128" });
    expect((await loadKubeConnection({ path, env: { HTTPS_PROXY: PROXY } })).proxy).toBe("http://from-kubeconfig:3128");
    expect(
      (
        await loadKubeConnection({
          path: kubeconfig({ server: "https://api.example:6443" }),
          env: { HTTPS_PROXY: PROXY },
        })
      ).proxy,
    ).toBe(PROXY);
  });

  it("uses HTTPS_PROXY in a pod unless NO_PROXY names the service", async () => {
    writeFileSync(join(dir, "token"), "t");
    const env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443", HTTPS_PROXY: PROXY };
    expect((await loadKubeConnection({ env, serviceAccountDir: dir, home: dir })).proxy).toBe(PROXY);
    expect(
      (await loadKubeConnection({ env: { ...env, NO_PROXY: "10.96.0.0/12" }, serviceAccountDir: dir, home: dir }))
        .proxy,
    ).toBeUndefined();
  });

  it("refuses a SOCKS proxy instead of going around it", async () => {
    const path = kubeconfig({ server: "https://api.example:6443", "proxy-url": "socks5://proxy:1080" });
    await expect(loadKubeConnection({ path, env: {} })).rejects.toThrow(/unsupported proxy socks5:\/\/proxy:1080/);
  });
});
