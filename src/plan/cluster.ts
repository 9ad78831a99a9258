import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";
import type { KubernetesObject } from "@kubernetes/client-node";
import {
  ALPHA_SENDER_PLURAL,
  BIRD_NUMBER_PLURAL,
  BIRD_SENDER_PLURAL,
  BIRD_WORKSPACE_PLURAL,
  GROUP,
  PHONE_NUMBER_PLURAL,
  VERSION,
  type AlphaSender,
  type BirdNumber,
  type BirdSender,
  type BirdWorkspace,
  type PhoneNumber,
} from "../api/v1alpha1/index.js";
import { MERGE_PATCH } from "../runtime/resource-client.js";
import { statusMessage } from "../runtime/kube-http.js";
import type { ReadOnlyKubeHttp } from "./read-only.js";

export interface NamespaceInfo {
  metadata?: { name?: string; labels?: Record<string, string>; deletionTimestamp?: unknown };
}

/** Everything the plan compares the input with, read once at its start. */
export interface ClusterState {
  server: string;
  workspaces: BirdWorkspace[];
  namespaces: Map<string, NamespaceInfo>;
  phoneNumbers: PhoneNumber[];
  alphaSenders: AlphaSender[];
  birdNumbers: BirdNumber[];
  birdSenders: BirdSender[];
}

/** The API server's answer to a server-side dry run: the object as it would be stored, or why not. */
export type DryRun<T> = { ok: true; object: T } | { ok: false; status: number; message: string };

export type ManagedKind = "PhoneNumber" | "AlphaSender";

const BASE = `/apis/${GROUP}/${VERSION}`;
const PLURALS: Record<ManagedKind, string> = { PhoneNumber: PHONE_NUMBER_PLURAL, AlphaSender: ALPHA_SENDER_PLURAL };
const FIELD_MANAGER = "bird-operator-plan";

/** Reads of the cluster and dry runs of the input, through a client that can send nothing else. */
export class ClusterReader {
  constructor(
    private readonly http: ReadOnlyKubeHttp,
    readonly server: string,
  ) {}

  async snapshot(): Promise<ClusterState> {
    const [workspaces, namespaces, phoneNumbers, alphaSenders, birdNumbers, birdSenders] = await Promise.all([
      this.list<BirdWorkspace>(`${BASE}/${BIRD_WORKSPACE_PLURAL}`),
      this.list<NamespaceInfo>("/api/v1/namespaces"),
      this.list<PhoneNumber>(`${BASE}/${PHONE_NUMBER_PLURAL}`),
      this.list<AlphaSender>(`${BASE}/${ALPHA_SENDER_PLURAL}`),
      this.list<BirdNumber>(`${BASE}/${BIRD_NUMBER_PLURAL}`),
      this.list<BirdSender>(`${BASE}/${BIRD_SENDER_PLURAL}`),
    ]);
    return {
      server: this.server,
      workspaces,
      namespaces: new Map(namespaces.map((ns) => [ns.metadata?.name ?? "", ns])),
      phoneNumbers,
      alphaSenders,
      birdNumbers,
      birdSenders,
    };
  }

  /** Names of the objects of a kind in a namespace that match a label selector (for --prune -l). */
  async names(kind: ManagedKind, namespace: string, labelSelector: string): Promise<Set<string>> {
    const items = await this.list<KubernetesObject>(`${BASE}/namespaces/${namespace}/${PLURALS[kind]}`, labelSelector);
    return new Set(items.map((item) => item.metadata?.name ?? ""));
  }

  dryRunCreate<T extends KubernetesObject>(kind: ManagedKind, object: T): Promise<DryRun<T>> {
    const namespace = object.metadata?.namespace ?? "";
    return this.dryRun<T>({ method: "POST", path: `${BASE}/namespaces/${namespace}/${PLURALS[kind]}`, body: object });
  }

  /** A JSON merge patch: the spec becomes exactly `spec` (fields it lacks are removed), as `kubectl apply` makes it. */
  dryRunSpec<T extends KubernetesObject>(
    kind: ManagedKind,
    namespace: string,
    name: string,
    live: unknown,
    spec: unknown,
  ): Promise<DryRun<T>> {
    return this.dryRun<T>({
      method: "PATCH",
      path: `${BASE}/namespaces/${namespace}/${PLURALS[kind]}/${name}`,
      body: { spec: mergePatch(live, spec) },
      contentType: MERGE_PATCH,
    });
  }

  /** Admission policies (the deletion guard) judge a dry-run delete as they would the real one. */
  dryRunDelete(kind: ManagedKind, namespace: string, name: string): Promise<DryRun<unknown>> {
    return this.dryRun<unknown>({ method: "DELETE", path: `${BASE}/namespaces/${namespace}/${PLURALS[kind]}/${name}` });
  }

  /** A key of a Secret, read with the caller's own permissions. */
  async secretValue(namespace: string, name: string, key: string): Promise<string> {
    const secret = await this.http.request<{ data?: Record<string, string> }>({
      method: "GET",
      path: `/api/v1/namespaces/${namespace}/secrets/${name}`,
    });
    const encoded = secret.data?.[key];
    if (!encoded) throw new Error(`Secret ${namespace}/${name} has no key "${key}"`);
    return Buffer.from(encoded, "base64").toString("utf8").trim();
  }

  private async list<T>(path: string, labelSelector?: string): Promise<T[]> {
    const list = await this.http.request<{ items: T[] }>({ method: "GET", path, query: { labelSelector } });
    return list.items;
  }

  private async dryRun<T>(req: {
    method: "POST" | "PATCH" | "DELETE";
    path: string;
    body?: unknown;
    contentType?: string;
  }): Promise<DryRun<T>> {
    const query = { dryRun: "All", ...(req.method === "DELETE" ? {} : { fieldManager: FIELD_MANAGER }) };
    try {
      return { ok: true, object: await this.http.request<T>({ ...req, query }) };
    } catch (error) {
      if (!(error instanceof ApiException)) throw error;
      const code = (error as ApiException<string>).code;
      return { ok: false, status: code, message: statusMessage(String((error as ApiException<string>).body)) };
    }
  }
}

/**
 * The JSON merge patch (RFC 7386) that turns `from` into `to`: keys `to` lacks are set to null, objects are patched
 * key by key, anything else (lists included) is replaced.
 */
export function mergePatch(from: unknown, to: unknown): unknown {
  if (!isObject(from) || !isObject(to)) return to;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(from)) if (!(key in to)) patch[key] = null;
  for (const [key, value] of Object.entries(to)) patch[key] = key in from ? mergePatch(from[key], value) : value;
  return patch;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
