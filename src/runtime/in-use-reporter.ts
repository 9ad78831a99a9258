import { GROUP, VERSION } from "../api/v1alpha1/index.js";
import type { Logger } from "../log.js";
import { errorMessage, isApiStatus } from "./errors.js";
import type { InformerEventType } from "./informer.js";
import type { KubeHttp } from "./kube-http.js";
import { MERGE_PATCH } from "./resource-client.js";

/** The ConfigMap deploy/components/deletion-guard reads (its policy's paramRef): `<plural>: "true"|"false"`. */
export const IN_USE_CONFIG_MAP = "bird-operator-in-use";

const MAX_RETRY_MS = 30_000;

/** What the reporter needs of an informer: its events, and its cache to see that the last object went. */
export interface InUseSource {
  on(handler: (type: InformerEventType) => void): void;
  readonly size: number;
}

export interface InUseReporterOptions {
  http: KubeHttp;
  /** The operator's namespace, where the deletion guard looks for the ConfigMap. */
  namespace: string;
  /** The informer of each kind, by plural (every kind of the group must be here, or its CRD can never be deleted). */
  kinds: Record<string, InUseSource>;
  logger: Logger;
}

/**
 * Keeps the deletion guard's ConfigMap saying, for each of the operator's kinds, whether any object of it exists, so
 * a ValidatingAdmissionPolicy (which cannot list objects) can refuse deleting a CRD that still has some. It writes
 * only when a kind flips between none and some, as seen by the informers' add and delete events, and then writes
 * what a live list (`limit=1`, every namespace) says, not what the cache says; a "false" it wrote stands only if a
 * list made after the write still finds none. So a lagging cache, a standby replica, an informer limited to some
 * namespaces or labels, or two replicas' writes crossing can delay a report, but cannot leave it saying "false" about
 * objects that existed when it was written. Runs beside the informers on every replica and gates nothing: the
 * operator works without the guard, and a failed write is retried with backoff.
 */
export class InUseReporter {
  private readonly pending = new Set<string>();
  private readonly nonEmpty = new Map<string, boolean>();
  private wake: () => void = () => undefined;
  private stopped = false;
  private loop?: Promise<void>;

  constructor(private readonly options: InUseReporterOptions) {
    for (const [plural, informer] of Object.entries(options.kinds)) {
      informer.on((type) => {
        if (type === "add" && !this.nonEmpty.get(plural)) this.flipped(plural, true);
        else if (type === "delete" && informer.size === 0) this.flipped(plural, false);
      });
    }
  }

  /** The manager starts it with the informers; the first report covers every kind, whatever the ConfigMap held. */
  start(): void {
    for (const plural of Object.keys(this.options.kinds)) this.pending.add(plural);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
  }

  /** Never holds up readiness: see the class comment. */
  hasSynced(): boolean {
    return true;
  }

  async waitForSync(): Promise<void> {}

  private flipped(plural: string, nonEmpty: boolean): void {
    this.nonEmpty.set(plural, nonEmpty);
    this.pending.add(plural);
    this.wake();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      if (this.pending.size === 0) {
        await this.pause();
        continue;
      }
      const plurals = [...this.pending];
      this.pending.clear();
      try {
        await this.report(plurals);
        failures = 0;
      } catch (error) {
        for (const plural of plurals) this.pending.add(plural);
        failures++;
        const retryInMs = Math.min(MAX_RETRY_MS, 500 * 2 ** Math.min(failures, 6));
        this.options.logger.warn(
          { configMap: IN_USE_CONFIG_MAP, kinds: plurals, err: errorMessage(error), retryInMs },
          "Could not report which kinds are in use; retrying",
        );
        await this.pause(retryInMs);
      }
    }
  }

  /** Until a kind flips or stop(); at most `ms` when given. */
  private pause(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async report(plurals: string[]): Promise<void> {
    const data: Record<string, string> = {};
    for (const plural of plurals) data[plural] = String(await this.exists(plural));
    await this.write(data);
    this.options.logger.info(
      { configMap: IN_USE_CONFIG_MAP, namespace: this.options.namespace, inUse: data },
      "Reported which kinds are in use",
    );
    for (const plural of plurals) if (data[plural] === "false" && (await this.exists(plural))) this.pending.add(plural);
  }

  private async exists(plural: string): Promise<boolean> {
    try {
      const list = await this.options.http.request<{ items: unknown[] }>({
        method: "GET",
        path: `/apis/${GROUP}/${VERSION}/${plural}`,
        query: { limit: 1 },
      });
      return list.items.length > 0;
    } catch (error) {
      // The CRD itself is gone (the guard let its deletion through): nothing of that kind can exist.
      if (isApiStatus(error, 404)) return false;
      throw error;
    }
  }

  /** A merge patch of the reported keys only, so keys of kinds another version of the operator reports survive. */
  private async write(data: Record<string, string>): Promise<void> {
    const collection = `/api/v1/namespaces/${this.options.namespace}/configmaps`;
    try {
      await this.options.http.request({
        method: "PATCH",
        path: `${collection}/${IN_USE_CONFIG_MAP}`,
        body: { data },
        contentType: MERGE_PATCH,
      });
    } catch (error) {
      if (!isApiStatus(error, 404)) throw error;
      const metadata = { name: IN_USE_CONFIG_MAP, labels: { "app.kubernetes.io/name": "bird-operator" } };
      await this.options.http.request({ method: "POST", path: collection, body: { metadata, data } });
      // Deleted since the first report: until every kind is reported again the guard counts the others as in use.
      for (const plural of Object.keys(this.options.kinds)) if (!(plural in data)) this.pending.add(plural);
    }
  }
}
