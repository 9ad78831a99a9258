import { API_VERSION } from "../../src/api/v1alpha1/index.js";
import { rfc3339 } from "../../src/runtime/status.js";
import { BIRD_GET_BURST, BIRD_GET_PER_SECOND, BIRD_POST_BURST, BIRD_POST_PER_SECOND, MEAN_LATENCY_MS } from "./bird.js";
import { CRD_BASE, createNamespace, type BenchCluster } from "./cluster.js";
import { collectionPath, createAll, KUBE_CONCURRENCY } from "./kube.js";
import { pool } from "./util.js";
import type { Manifest } from "./workload.js";

/** Bird's page size for lists and stock searches, and its batch limits. */
const PAGE = 99;
const BUY_BATCH = 25;
const ACTIVATE_BATCH = 100;

export interface CallLine {
  what: string;
  method: "GET" | "POST";
  count: number;
  how: string;
  /** Needed to be Ready, or only to fill status fields (subscription dates) the design promises. */
  neededFor: "ready" | "status";
}

export interface ProvisioningShape {
  /** PhoneNumbers per `country/type` group. */
  numberGroups: Record<string, number>;
  senders: number;
  countriesPerSender: number;
  /** Senders the workspace holds in all (the bench's plus the simulator's defaults): what a sender list pages over. */
  sendersInWorkspace: number;
}

/**
 * The Bird calls no implementation can avoid for the provisioning scenario, counted from the API's limits: stock
 * searches return 99 items a page, a buy takes up to 25 stock items, an activate call serves one endpoint with up to
 * 100 countries, lists return 99 per page. Subscription dates exist only behind one GET per endpoint: counted
 * separately, since Ready does not depend on them.
 */
export function necessaryBirdCalls(shape: ProvisioningShape): CallLine[] {
  const groups = Object.entries(shape.numberGroups);
  const numbers = groups.reduce((n, [, c]) => n + c, 0);
  const searches = groups.reduce((n, [, c]) => n + Math.ceil(c / PAGE), 0);
  const lines: CallLine[] = [
    {
      what: "stock searches",
      method: "GET",
      count: searches,
      how: `${groups.length} country/type groups, ceil(group size / ${PAGE}) pages each`,
      neededFor: "ready",
    },
    {
      what: "buys",
      method: "POST",
      count: Math.ceil(numbers / BUY_BATCH),
      how: `ceil(${numbers} numbers / ${BUY_BATCH} stock items per buy)`,
      neededFor: "ready",
    },
    {
      what: "see numbers provisioned",
      method: "GET",
      count: Math.ceil(numbers / PAGE),
      how: `one list of the workspace's numbers after the provisioning delay: ceil(${numbers} / ${PAGE}) pages`,
      neededFor: "ready",
    },
    {
      what: "activate number destinations",
      method: "POST",
      count: numbers,
      how: `one call per number (an activate call serves one endpoint)`,
      neededFor: "ready",
    },
    {
      what: "find senders",
      method: "GET",
      count: Math.ceil(shape.sendersInWorkspace / PAGE),
      how:
        `one list of the workspace's ${shape.sendersInWorkspace} senders: ` +
        `ceil(${shape.sendersInWorkspace} / ${PAGE}) pages`,
      neededFor: "ready",
    },
    {
      what: "activate sender countries",
      method: "POST",
      count: shape.senders * Math.ceil(shape.countriesPerSender / ACTIVATE_BATCH),
      how:
        `${shape.senders} senders x ceil(${shape.countriesPerSender} countries / ${ACTIVATE_BATCH}); ` +
        "the answer carries destination states and subscription prices",
      neededFor: "ready",
    },
    {
      what: "main subscription dates",
      method: "GET",
      count: numbers,
      how: `one GET per number: startAt/endAt exist nowhere else`,
      neededFor: "status",
    },
  ];
  return lines.filter((l) => l.count > 0);
}

export interface BirdBound {
  gets: number;
  posts: number;
  /** Seconds Bird's buckets need for these calls, each starting full: max((GETs - 50) / 50, (POSTs - 500) / 500). */
  rateLimitSeconds: number;
  /** Calls that must follow one another (search, buy, wait for provisioning, list, activate) at the mean latency. */
  criticalPathSeconds: number;
  seconds: number;
  formula: string;
}

export function birdBound(
  lines: readonly CallLine[],
  neededFor: readonly CallLine["neededFor"][],
  provisioningDelayMs: number,
): BirdBound {
  const used = lines.filter((l) => neededFor.includes(l.neededFor));
  const gets = used.filter((l) => l.method === "GET").reduce((n, l) => n + l.count, 0);
  const posts = used.filter((l) => l.method === "POST").reduce((n, l) => n + l.count, 0);
  const rateLimitSeconds = Math.max(
    Math.max(0, gets - BIRD_GET_BURST) / BIRD_GET_PER_SECOND,
    Math.max(0, posts - BIRD_POST_BURST) / BIRD_POST_PER_SECOND,
  );
  const criticalPathSeconds = (4 * MEAN_LATENCY_MS + provisioningDelayMs) / 1000;
  return {
    gets,
    posts,
    rateLimitSeconds,
    criticalPathSeconds,
    seconds: rateLimitSeconds + criticalPathSeconds,
    formula:
      `max((${gets} GET - ${BIRD_GET_BURST}) / ${BIRD_GET_PER_SECOND}/s, ` +
      `(${posts} POST - ${BIRD_POST_BURST}) / ${BIRD_POST_PER_SECOND}/s) + 4 x ${MEAN_LATENCY_MS} ms + ` +
      `${provisioningDelayMs} ms provisioning`,
  };
}

/** Writes to replay: `Kind verb` (the operator's own counter) and Events created and patched (from the API server). */
export interface WriteMix {
  crd: Record<string, number>;
  eventCreates: number;
  eventPatches: number;
}

export interface BareClientResult {
  writes: number;
  seconds: number;
  concurrency: number;
  writesPerSecond: number;
}

type Op = () => Promise<void>;

/**
 * The Kubernetes half of the bound: a bare client (KubeHttp, one keep-alive pool, `concurrency` in flight) makes the
 * same writes the operator made, by kind and verb, on scratch objects in a namespace nobody watches: a finalizer JSON
 * patch, full updates carrying resourceVersion, status merge patches, Event creates and patches. Writes to one
 * object go one after another (as the operator's per-key queue does), different objects in parallel. Creating the
 * scratch objects is not timed.
 */
export async function bareClientWrites(
  cluster: BenchCluster,
  mix: WriteMix,
  objects: Record<string, number>,
  concurrency = KUBE_CONCURRENCY,
): Promise<BareClientResult> {
  const namespace = `bench-bare-${Math.random().toString(36).slice(2, 7)}`;
  await createNamespace(cluster, namespace);
  const chains: Op[][] = [];
  for (const kind of ["PhoneNumber", "AlphaSender", "BirdWorkspace"]) {
    const verbs = Object.entries(mix.crd).flatMap(([key, n]) =>
      key.startsWith(`${kind} `) ? [{ verb: key.slice(kind.length + 1), n }] : [],
    );
    const total = verbs.reduce((s, v) => s + v.n, 0);
    if (total === 0) continue;
    const count = Math.max(1, Math.min(objects[kind] ?? 1, total));
    const scratch = await createScratch(cluster, kind, namespace, count);
    const perObject: string[][] = scratch.map(() => []);
    let i = 0;
    for (const { verb, n } of verbs) for (let k = 0; k < n; k++) perObject[i++ % count]?.push(verb);
    scratch.forEach((object, index) => chains.push(objectChain(cluster, object, perObject[index] ?? [])));
  }
  chains.push(...eventChains(cluster, namespace, mix.eventCreates, mix.eventPatches));
  const writes = chains.reduce((n, c) => n + c.length, 0);
  const started = performance.now();
  await pool(chains, concurrency, async (chain) => {
    for (const op of chain) await op();
  });
  const seconds = (performance.now() - started) / 1000;
  return { writes, seconds, concurrency, writesPerSecond: writes / seconds };
}

type Scratch = {
  path: string;
  body: Record<string, unknown> & { metadata: { resourceVersion?: string; annotations?: Record<string, string> } };
};

async function createScratch(
  cluster: BenchCluster,
  kind: string,
  namespace: string,
  count: number,
): Promise<Scratch[]> {
  const name = (i: number): string => `bare-${namespace.slice(-5)}-${i}`;
  if (kind === "BirdWorkspace") {
    const body = {
      apiVersion: API_VERSION,
      kind,
      metadata: { name: name(0), labels: { "bird-operator-bench": "bare" } },
      spec: {
        organizationId: "11111111-1111-4111-8111-111111111111",
        workspaceId: "22222222-2222-4222-8222-222222222222",
        accessKeySecretRef: { namespace, name: "none", key: "accessKey" },
      },
    };
    const created = await cluster.http.request<Scratch["body"]>({
      method: "POST",
      path: `${CRD_BASE}/birdworkspaces`,
      body,
    });
    return [{ path: `${CRD_BASE}/birdworkspaces/${name(0)}`, body: created }];
  }
  const spec =
    kind === "PhoneNumber"
      ? { workspaceRef: { name: "none" }, countryCode: "US", type: "local" }
      : { workspaceRef: { name: "none" }, alphaString: "BARE", countries: ["NL"] };
  const manifests: Manifest[] = Array.from({ length: count }, (_, i) => ({
    apiVersion: API_VERSION,
    kind,
    metadata: { name: name(i), namespace },
    spec,
  }));
  await createAll(cluster, manifests);
  return Promise.all(
    manifests.map(async (m) => {
      const path = `${collectionPath(kind, namespace)}/${m.metadata.name}`;
      return { path, body: await cluster.http.request<Scratch["body"]>({ method: "GET", path }) };
    }),
  );
}

function objectChain(cluster: BenchCluster, scratch: Scratch, verbs: string[]): Op[] {
  let current = scratch.body;
  let n = 0;
  return verbs.map((verb) => async () => {
    n++;
    if (verb === "patch") {
      current = await cluster.http.request({
        method: "PATCH",
        path: scratch.path,
        contentType: "application/json-patch+json",
        body: [
          { op: "test", path: "/metadata/resourceVersion", value: current.metadata.resourceVersion },
          { op: "add", path: "/metadata/finalizers", value: [`bench.birdoperator.dev/f${n}`] },
        ],
      });
    } else if (verb === "update") {
      const annotations = { ...current.metadata.annotations, "bench.birdoperator.dev/write": String(n) };
      current = await cluster.http.request({
        method: "PUT",
        path: scratch.path,
        body: { ...current, metadata: { ...current.metadata, annotations } },
      });
    } else if (verb === "patch-status") {
      const now = rfc3339(new Date());
      const conditions = [
        {
          type: "Ready",
          status: "False",
          reason: "Bench",
          message: `write ${n}`,
          lastTransitionTime: now,
          observedGeneration: 1,
        },
      ];
      current = await cluster.http.request({
        method: "PATCH",
        path: `${scratch.path}/status`,
        contentType: "application/merge-patch+json",
        body: { status: { observedGeneration: 1, lastSyncTime: now, conditions } },
      });
    } else {
      throw new Error(`the bare client cannot replay the verb "${verb}"`);
    }
  });
}

function eventChains(cluster: BenchCluster, namespace: string, creates: number, patches: number): Op[][] {
  const path = `/api/v1/namespaces/${namespace}/events`;
  return Array.from({ length: creates }, (_, i) => {
    const name = `bare.${i}`;
    const create: Op = async () => {
      const now = rfc3339(new Date());
      await cluster.http.request({
        method: "POST",
        path,
        body: {
          apiVersion: "v1",
          kind: "Event",
          metadata: { name, namespace },
          involvedObject: { apiVersion: API_VERSION, kind: "PhoneNumber", namespace, name: `bare-${i}` },
          reason: "Bench",
          message: `bare client event ${i}`,
          type: "Normal",
          count: 1,
          firstTimestamp: now,
          lastTimestamp: now,
          source: { component: "bench" },
        },
      });
    };
    const own = Math.floor(patches / creates) + (i < patches % creates ? 1 : 0);
    const bumps: Op[] = Array.from({ length: own }, (_, k) => async () => {
      await cluster.http.request({
        method: "PATCH",
        path: `${path}/${name}`,
        contentType: "application/merge-patch+json",
        body: { count: k + 2, lastTimestamp: rfc3339(new Date()) },
      });
    });
    return [create, ...bumps];
  });
}
