import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadKubeConnection, TOKEN_FILE_MAX_AGE_MS, type LoadOptions } from "../../src/runtime/kube-config.js";

const CA = "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n";
const base64 = (text: string): string => Buffer.from(text).toString("base64");

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bird-operator-kubeconfig-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A kubeconfig with one context `ctx` joining cluster `c` and user `u`. */
function kubeconfig(
  cluster: Record<string, unknown>,
  user?: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "ctx",
    clusters: [{ name: "c", cluster }],
    contexts: [{ name: "ctx", context: { cluster: "c", ...(user ? { user: "u" } : {}) } }],
    users: user ? [{ name: "u", user }] : [],
    ...extra,
  };
}

function write(path: string, content: string | Record<string, unknown>): string {
  const full = join(dir, path);
  mkdirSync(join(full, ".."), { recursive: true });
  writeFileSync(full, typeof content === "string" ? content : stringify(content));
  return full;
}

/** Nothing from the machine running the tests leaks in: no KUBECONFIG, no service account, an empty home. */
function isolated(options: LoadOptions = {}): LoadOptions {
  return { env: {}, serviceAccountDir: join(dir, "no-service-account"), home: join(dir, "home"), ...options };
}

describe("loadKubeConnection", () => {
  it("reads inline certificate data, a token and the TLS options of the current context", async () => {
    const path = write(
      "config",
      kubeconfig(
        {
          server: "https://api.example:6443/",
          "certificate-authority-data": base64(CA),
          "insecure-skip-tls-verify": true,
          "tls-server-name": "kubernetes",
        },
        { "client-certificate-data": base64(CERT), "client-key-data": base64(KEY), token: "t0ken" },
      ),
    );
    const connection = await loadKubeConnection(isolated({ path }));
    expect(connection.server).toBe("https://api.example:6443");
    expect(connection.source).toContain(path);
    const options = await connection.requestOptions();
    expect(options.ca).toEqual(Buffer.from(CA));
    expect(options.cert).toEqual(Buffer.from(CERT));
    expect(options.key).toEqual(Buffer.from(KEY));
    expect(options.rejectUnauthorized).toBe(false);
    expect(options.servername).toBe("kubernetes");
    expect(options.headers).toEqual({ Authorization: "Bearer t0ken" });
  });

  it("resolves certificate, key and token file paths against the kubeconfig's directory", async () => {
    write("conf/pki/ca.crt", CA);
    write("conf/pki/client.crt", CERT);
    write("conf/pki/client.key", KEY);
    write("conf/token", "from-file\n");
    const path = write(
      "conf/kubeconfig",
      kubeconfig(
        { server: "https://api.example", "certificate-authority": "pki/ca.crt" },
        { "client-certificate": "pki/client.crt", "client-key": "pki/client.key", tokenFile: "token" },
      ),
    );
    const options = await (await loadKubeConnection(isolated({ path }))).requestOptions();
    expect(options.ca).toEqual(Buffer.from(CA));
    expect(options.cert).toEqual(Buffer.from(CERT));
    expect(options.key).toEqual(Buffer.from(KEY));
    expect(options.rejectUnauthorized).toBe(true);
    expect(options.headers.Authorization).toBe("Bearer from-file");
  });

  it("reads the token file again once a minute, keeping the last token while the file is briefly missing", async () => {
    let clock = 1_000_000;
    const tokenFile = write("token", "first");
    const path = write("config", kubeconfig({ server: "https://api.example" }, { token: "static", tokenFile }));
    const connection = await loadKubeConnection({ ...isolated({ path }), now: () => clock });
    const bearer = async (): Promise<string | undefined> => (await connection.requestOptions()).headers.Authorization;
    expect(await bearer()).toBe("Bearer first");
    write("token", "rotated");
    clock += TOKEN_FILE_MAX_AGE_MS - 1;
    expect(await bearer()).toBe("Bearer first");
    clock += 1;
    expect(await bearer()).toBe("Bearer rotated");
    unlinkSync(tokenFile);
    clock += TOKEN_FILE_MAX_AGE_MS;
    expect(await bearer()).toBe("Bearer rotated");
    write("token", "back");
    expect(await bearer()).toBe("Bearer back");
  });

  it("fails a request naming the token file when it was never readable", async () => {
    const tokenFile = join(dir, "missing-token");
    const path = write("config", kubeconfig({ server: "https://api.example" }, { tokenFile }));
    const connection = await loadKubeConnection(isolated({ path }));
    await expect(connection.requestOptions()).rejects.toThrow(tokenFile);
  });

  it("uses the pod's service account when KUBERNETES_SERVICE_HOST and _PORT are set", async () => {
    const serviceAccountDir = join(dir, "serviceaccount");
    write("serviceaccount/token", "pod-token\n");
    write("serviceaccount/ca.crt", CA);
    write("serviceaccount/namespace", "bird-operator");
    write("home/.kube/config", kubeconfig({ server: "https://home.example" }));
    const env = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" };
    let clock = 0;
    const connection = await loadKubeConnection({ ...isolated({ env, serviceAccountDir }), now: () => clock });
    expect(connection.server).toBe("https://10.0.0.1:443");
    const options = await connection.requestOptions();
    expect(options.ca).toEqual(Buffer.from(CA));
    expect(options.rejectUnauthorized).toBe(true);
    expect(options.headers.Authorization).toBe("Bearer pod-token");
    write("serviceaccount/token", "rotated-by-kubelet");
    clock += TOKEN_FILE_MAX_AGE_MS;
    expect((await connection.requestOptions()).headers.Authorization).toBe("Bearer rotated-by-kubelet");

    const ipv6 = await loadKubeConnection(
      isolated({ env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }, serviceAccountDir }),
    );
    expect(ipv6.server).toBe("https://[fd00::1]:443");
  });

  it("looks for --kubeconfig, then KUBECONFIG, then the service account, then ~/.kube/config", async () => {
    const serviceAccountDir = join(dir, "serviceaccount");
    write("serviceaccount/token", "pod-token");
    write("home/.kube/config", kubeconfig({ server: "https://home.example" }));
    const fromEnv = write("env-config", kubeconfig({ server: "https://env.example" }));
    const fromFlag = write("flag-config", kubeconfig({ server: "https://flag.example" }));
    const inPod = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" };
    const server = async (options: LoadOptions): Promise<string> =>
      (await loadKubeConnection(isolated(options))).server;

    expect(await server({ path: fromFlag, env: { ...inPod, KUBECONFIG: fromEnv }, serviceAccountDir })).toBe(
      "https://flag.example",
    );
    expect(await server({ env: { ...inPod, KUBECONFIG: fromEnv }, serviceAccountDir })).toBe("https://env.example");
    expect(await server({ env: inPod, serviceAccountDir })).toBe("https://10.0.0.1:443");
    expect(await server({ env: inPod })).toBe("https://home.example");
    expect(await server({})).toBe("https://home.example");
  });

  it("merges the files in KUBECONFIG: the first to set the current context or define a name wins", async () => {
    write("a/ca.crt", CA);
    const first = write("a/config", {
      clusters: [{ name: "shared", cluster: { server: "https://first.example", "certificate-authority": "ca.crt" } }],
      users: [{ name: "me", user: { token: "first-token" } }],
    });
    const second = write("b/config", {
      "current-context": "work",
      clusters: [{ name: "shared", cluster: { server: "https://second.example" } }],
      contexts: [{ name: "work", context: { cluster: "shared", user: "me" } }],
      users: [{ name: "me", user: { token: "second-token" } }],
    });
    const missing = join(dir, "missing");
    const connection = await loadKubeConnection(isolated({ env: { KUBECONFIG: [missing, first, second].join(":") } }));
    expect(connection.server).toBe("https://first.example");
    const options = await connection.requestOptions();
    expect(options.ca).toEqual(Buffer.from(CA));
    expect(options.headers.Authorization).toBe("Bearer first-token");
  });

  it("says what is missing", async () => {
    const noContext = write("no-context", {
      ...kubeconfig({ server: "https://api.example" }),
      "current-context": undefined,
    });
    await expect(loadKubeConnection(isolated({ path: noContext }))).rejects.toThrow(
      `the kubeconfig at ${noContext} has no current-context`,
    );
    const unknownContext = write("unknown-context", {
      ...kubeconfig({ server: "https://api.example" }),
      "current-context": "other",
    });
    await expect(loadKubeConnection(isolated({ path: unknownContext }))).rejects.toThrow(`has no context "other"`);
    const noCluster = write("no-cluster", { ...kubeconfig({ server: "https://api.example" }), clusters: [] });
    await expect(loadKubeConnection(isolated({ path: noCluster }))).rejects.toThrow(
      `names cluster "c", which is not defined`,
    );
    const noServer = write("no-server", kubeconfig({}));
    await expect(loadKubeConnection(isolated({ path: noServer }))).rejects.toThrow(
      `cluster "c" in the kubeconfig at ${noServer} has no server`,
    );
    const badCa = write(
      "bad-ca",
      kubeconfig({ server: "https://api.example", "certificate-authority": "nowhere.crt" }),
    );
    await expect(loadKubeConnection(isolated({ path: badCa }))).rejects.toThrow(
      `cannot read ${join(dir, "nowhere.crt")}`,
    );
    await expect(loadKubeConnection(isolated({ path: join(dir, "absent") }))).rejects.toThrow(
      `cannot read the kubeconfig at ${join(dir, "absent")}`,
    );
    await expect(loadKubeConnection(isolated({ env: { KUBECONFIG: join(dir, "absent") } }))).rejects.toThrow(
      "none of the files in KUBECONFIG exist",
    );
    await expect(loadKubeConnection(isolated())).rejects.toThrow("no kubeconfig found");
  });

  it("hands users with a credential plugin to client-node, which runs the plugin for each request", async () => {
    write("ca.crt", CA);
    const credential = {
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      status: { token: "from-plugin" },
    };
    const path = write(
      "config",
      kubeconfig(
        { server: "https://api.example", "certificate-authority": "ca.crt" },
        {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1",
            command: process.execPath,
            args: ["-e", `console.log(${JSON.stringify(JSON.stringify(credential))})`],
            interactiveMode: "Never",
          },
        },
      ),
    );
    const debug: string[] = [];
    const logger = {
      debug: (_fields: unknown, message: string) => debug.push(message),
    } as unknown as LoadOptions["logger"];
    const connection = await loadKubeConnection(isolated({ path, logger }));
    expect(connection.server).toBe("https://api.example");
    const options = await connection.requestOptions();
    expect(options.headers.Authorization).toBe("Bearer from-plugin");
    expect(options.ca).toEqual(Buffer.from(CA));
    expect(debug).toEqual([expect.stringContaining("credential plugin")]);
  });
});
