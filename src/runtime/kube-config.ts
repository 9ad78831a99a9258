import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { RequestOptions } from "node:https";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../log.js";
import { proxyFromEnv } from "./proxy.js";

/**
 * Where the API server is and how to reach it, read once from a kubeconfig or the pod's service account. This stands
 * in for client-node's KubeConfig on the operator's runtime path: importing client-node loads every generated API
 * model (about 70 MB of resident memory) for the few fields a request needs.
 */
export interface KubeConnection {
  /** The API server's base URL, without a trailing slash. */
  readonly server: string;
  /** Where these settings came from, for messages. */
  readonly source: string;
  /**
   * An HTTP proxy to tunnel through: the cluster's `proxy-url`, else HTTPS_PROXY / HTTP_PROXY unless NO_PROXY matches.
   */
  readonly proxy?: string;
  /** TLS settings and headers for the next request: asked per request, so a rotated token file is read again. */
  requestOptions(): Promise<ConnectionOptions>;
}

export interface ConnectionOptions {
  ca?: RequestOptions["ca"];
  cert?: RequestOptions["cert"];
  key?: RequestOptions["key"];
  rejectUnauthorized: boolean;
  servername?: string;
  headers: Record<string, string>;
}

/** Test, bench and control-plane code still hold client-node KubeConfigs; operator code accepts either. */
export type KubeSource = KubeConnection | KubeConfig;

export interface LoadOptions {
  /** `--kubeconfig`: this file only. */
  path?: string;
  /** Defaults to process.env (KUBECONFIG, KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT). */
  env?: NodeJS.ProcessEnv;
  /** Defaults to the service account directory every pod gets. */
  serviceAccountDir?: string;
  /** Defaults to the user's home directory, for ~/.kube/config. */
  home?: string;
  logger?: Logger;
  /** The clock the token file's age is read on (tests). */
  now?: () => number;
}

/**
 * A token file is read again once it is this old, as client-go's cached file token source does: the kubelet rotates a
 * projected token well before it expires, and a read per request was a file system call for every write.
 */
export const TOKEN_FILE_MAX_AGE_MS = 60_000;

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Finds the connection the way controller-runtime does: `--kubeconfig`, else the files in KUBECONFIG (merged, the first
 * to define a name or the current context wins), else the pod's service account, else ~/.kube/config.
 */
export async function loadKubeConnection(options: LoadOptions = {}): Promise<KubeConnection> {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  if (options.path) return fromKubeconfigFiles([options.path], options.path, env, options.logger, now);
  if (env.KUBECONFIG) {
    const listed = env.KUBECONFIG.split(delimiter).filter(Boolean);
    const files = listed.filter((file) => existsSync(file));
    if (files.length === 0) throw new Error(`none of the files in KUBECONFIG exist: ${listed.join(", ")}`);
    return fromKubeconfigFiles(files, `KUBECONFIG (${files.join(delimiter)})`, env, options.logger, now);
  }
  const serviceAccountDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = env;
  if (host && port && existsSync(join(serviceAccountDir, "token")))
    return inCluster(host, port, serviceAccountDir, env, now);
  const homeConfig = join(options.home ?? homedir(), ".kube", "config");
  if (existsSync(homeConfig)) return fromKubeconfigFiles([homeConfig], homeConfig, env, options.logger, now);
  throw new Error(
    "no kubeconfig found: give --kubeconfig, set KUBECONFIG, run in a pod (KUBERNETES_SERVICE_HOST and " +
      `KUBERNETES_SERVICE_PORT set and a token in ${serviceAccountDir}), or create ${homeConfig}`,
  );
}

/**
 * client-go's InClusterConfig: the service's address from the
 * environment, the pod's token (rotated by the kubelet) and CA.
 */
function inCluster(host: string, port: string, dir: string, env: NodeJS.ProcessEnv, now: () => number): KubeConnection {
  const caFile = join(dir, "ca.crt");
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return connection({
    server,
    source: `the service account in ${dir}`,
    proxy: proxyFor(server, undefined, env),
    ca: existsSync(caFile) ? readFileSync(caFile) : undefined,
    tokenFile: join(dir, "token"),
    insecure: false,
    now,
  });
}

interface Named<T> {
  name: string;
  entry: T;
  /** Relative paths in an entry are relative to the file that defined it. */
  dir: string;
}

interface RawCluster {
  server?: string;
  "certificate-authority"?: string;
  "certificate-authority-data"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "tls-server-name"?: string;
  "proxy-url"?: string;
}

interface RawContext {
  cluster?: string;
  user?: string;
}

interface RawUser {
  "client-certificate"?: string;
  "client-certificate-data"?: string;
  "client-key"?: string;
  "client-key-data"?: string;
  token?: string;
  tokenFile?: string;
  [other: string]: unknown;
}

/** Credentials only a plugin (or client-node's code for it) can produce. */
const PLUGIN_FIELDS = ["exec", "auth-provider", "username", "as", "as-groups", "as-uid", "as-user-extra"];

interface Merged {
  currentContext?: string;
  clusters: Map<string, Named<RawCluster>>;
  contexts: Map<string, Named<RawContext>>;
  users: Map<string, Named<RawUser>>;
}

interface RawKubeconfig {
  "current-context"?: string;
  clusters?: { name: string; cluster?: RawCluster }[];
  contexts?: { name: string; context?: RawContext }[];
  users?: { name: string; user?: RawUser }[];
}

/** kubectl's merge: the first file to set the current context, or to define a name, wins. */
async function readKubeconfigs(files: string[]): Promise<Merged> {
  // Loaded on use: in a pod, where the service account is used, the YAML parser is never needed.
  const { parse } = await import("yaml");
  const merged: Merged = { clusters: new Map(), contexts: new Map(), users: new Map() };
  const add = <T>(into: Map<string, Named<T>>, name: string, entry: T | undefined, dir: string): void => {
    if (!into.has(name)) into.set(name, { name, entry: entry ?? ({} as T), dir });
  };
  for (const file of files) {
    let raw: RawKubeconfig | null;
    try {
      raw = parse(readFileSync(file, "utf8")) as RawKubeconfig | null;
    } catch (error) {
      throw new Error(
        `cannot read the kubeconfig at ${file}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    const dir = dirname(resolve(file));
    merged.currentContext ||= raw?.["current-context"];
    for (const c of raw?.clusters ?? []) add(merged.clusters, c.name, c.cluster, dir);
    for (const c of raw?.contexts ?? []) add(merged.contexts, c.name, c.context, dir);
    for (const u of raw?.users ?? []) add(merged.users, u.name, u.user, dir);
  }
  return merged;
}

async function fromKubeconfigFiles(
  files: string[],
  source: string,
  env: NodeJS.ProcessEnv,
  logger: Logger | undefined,
  now: () => number,
): Promise<KubeConnection> {
  const { currentContext, cluster, user } = chooseEntries(await readKubeconfigs(files), source);
  const where = `${source}, context "${currentContext}"`;
  if (user && PLUGIN_FIELDS.some((field) => user.entry[field] !== undefined)) {
    logger?.debug(
      { kubeconfig: source, user: user.name },
      "The kubeconfig user needs a credential plugin, basic auth or impersonation: loading client-node for it",
    );
    return viaClientNode(currentContext, cluster, user, where, env);
  }
  return directConnection(cluster, user, where, env, now);
}

/** The current context's cluster and user; a name that is missing or points nowhere is an error naming it. */
function chooseEntries(
  { currentContext, clusters, contexts, users }: Merged,
  source: string,
): { currentContext: string; cluster: Named<RawCluster>; user: Named<RawUser> | undefined } {
  if (!currentContext) throw new Error(`the kubeconfig at ${source} has no current-context`);
  const context = contexts.get(currentContext);
  if (!context) throw new Error(`the kubeconfig at ${source} has no context "${currentContext}" (its current-context)`);
  const cluster = context.entry.cluster ? clusters.get(context.entry.cluster) : undefined;
  if (!cluster)
    throw new Error(
      `context "${currentContext}" in the kubeconfig at ${source} names cluster ` +
        `"${context.entry.cluster ?? ""}", which is not defined`,
    );
  if (!cluster.entry.server) throw new Error(`cluster "${cluster.name}" in the kubeconfig at ${source} has no server`);
  const user = context.entry.user ? users.get(context.entry.user) : undefined;
  if (context.entry.user && !user)
    throw new Error(
      `context "${currentContext}" in the kubeconfig at ${source} names user "${context.entry.user}", ` +
        "which is not defined",
    );
  return { currentContext, cluster, user };
}

function directConnection(
  cluster: Named<RawCluster>,
  user: Named<RawUser> | undefined,
  where: string,
  env: NodeJS.ProcessEnv,
  now: () => number,
): KubeConnection {
  const c = cluster.entry;
  const u = user?.entry ?? {};
  return connection({
    server: c.server ?? "",
    source: where,
    proxy: proxyFor(c.server ?? "", c["proxy-url"], env),
    ca: bytes(c["certificate-authority-data"], c["certificate-authority"], cluster.dir),
    cert: bytes(u["client-certificate-data"], u["client-certificate"], user?.dir),
    key: bytes(u["client-key-data"], u["client-key"], user?.dir),
    token: u.token,
    tokenFile: u.tokenFile ? absolute(u.tokenFile, user?.dir) : undefined,
    insecure: c["insecure-skip-tls-verify"] === true,
    servername: c["tls-server-name"],
    now,
  });
}

/**
 * Cloud plugins (exec, auth-provider) are rare for an operator, which runs in-cluster: for them, and only then,
 * client-node is loaded and does the work, given the chosen entries with their paths made absolute.
 */
async function viaClientNode(
  contextName: string,
  cluster: Named<RawCluster>,
  user: Named<RawUser>,
  where: string,
  env: NodeJS.ProcessEnv,
): Promise<KubeConnection> {
  const c = cluster.entry;
  const u = user.entry;
  const raw = {
    "current-context": contextName,
    contexts: [{ name: contextName, context: { cluster: cluster.name, user: user.name } }],
    clusters: [
      {
        name: cluster.name,
        cluster: {
          ...c,
          "certificate-authority": c["certificate-authority"] && absolute(c["certificate-authority"], cluster.dir),
        },
      },
    ],
    users: [
      {
        name: user.name,
        user: {
          ...u,
          "client-certificate": u["client-certificate"] && absolute(u["client-certificate"], user.dir),
          "client-key": u["client-key"] && absolute(u["client-key"], user.dir),
          tokenFile: u.tokenFile && absolute(u.tokenFile, user.dir),
        },
      },
    ],
  };
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(JSON.stringify(raw));
  return fromClientNode(kubeConfig, where, env);
}

/** The connection a KubeHttp uses, whichever form it was given in. */
export function toKubeConnection(source: KubeSource): KubeConnection {
  return isClientNodeKubeConfig(source) ? fromClientNode(source, "a client-node KubeConfig", process.env) : source;
}

/**
 * The kubeconfig's `proxy-url` wins over the environment, as in client-go. Only HTTP proxies tunnel here (CONNECT);
 * a SOCKS proxy fails at start rather than being bypassed.
 */
function proxyFor(server: string, proxyUrl: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const proxy = proxyUrl || (server ? proxyFromEnv(new URL(server), env) : undefined);
  if (proxy && !/^https?:\/\//i.test(proxy))
    throw new Error(`unsupported proxy ${proxy} for the API server: only http:// and https:// proxies are supported`);
  return proxy;
}

function isClientNodeKubeConfig(source: KubeSource): source is KubeConfig {
  return typeof (source as Partial<KubeConfig>).applyToHTTPSOptions === "function";
}

/** Asks client-node for every request's options, so its plugins refresh credentials as they expire. */
function fromClientNode(kubeConfig: KubeConfig, source: string, env: NodeJS.ProcessEnv): KubeConnection {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error(`${source} has no current cluster`);
  return {
    server: cluster.server.replace(/\/+$/, ""),
    source,
    proxy: proxyFor(cluster.server, cluster.proxyUrl, env),
    async requestOptions() {
      const options: RequestOptions = {};
      await kubeConfig.applyToHTTPSOptions(options);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(options.headers ?? {}))
        if (value !== undefined) headers[name] = String(value);
      if (typeof options.auth === "string")
        headers.Authorization = `Basic ${Buffer.from(options.auth).toString("base64")}`;
      return {
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        rejectUnauthorized: options.rejectUnauthorized ?? cluster.skipTLSVerify !== true,
        servername: options.servername,
        headers,
      };
    },
  };
}

interface Settings {
  server: string;
  source: string;
  proxy?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  tokenFile?: string;
  insecure: boolean;
  servername?: string;
  now?: () => number;
}

function connection(settings: Settings): KubeConnection {
  const { ca, cert, key, insecure, servername, tokenFile } = settings;
  const now = settings.now ?? Date.now;
  let token = settings.token;
  let readAt = -Infinity;
  return {
    server: settings.server.replace(/\/+$/, ""),
    source: settings.source,
    proxy: settings.proxy,
    async requestOptions() {
      // As client-go: the token file wins over a token, is read again once a minute, and a failed read keeps the token
      // last read (and is tried again at the next request).
      if (tokenFile && now() - readAt >= TOKEN_FILE_MAX_AGE_MS) {
        try {
          token = (await readFile(tokenFile, "utf8")).trim();
          readAt = now();
        } catch (error) {
          if (!token) throw new Error(`cannot read the token file ${tokenFile}`, { cause: error });
        }
      }
      const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
      return { ca, cert, key, rejectUnauthorized: !insecure, servername, headers };
    },
  };
}

/** Inline base64 data wins over a file, as in kubectl. */
function bytes(data: string | undefined, file: string | undefined, dir: string | undefined): Buffer | undefined {
  if (data) return Buffer.from(data, "base64");
  if (!file) return undefined;
  const path = absolute(file, dir);
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read ${path}, named in the kubeconfig`, { cause: error });
  }
}

function absolute(path: string, dir: string | undefined): string {
  return isAbsolute(path) || !dir ? path : join(dir, path);
}
