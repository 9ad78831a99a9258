import type { KubernetesObject } from "@kubernetes/client-node";
import { silentLogger } from "../../src/log.js";
import { Informer, objectKey } from "../../src/runtime/informer.js";
import { findCondition, isReady, type Condition } from "../../src/runtime/status.js";
import type { BenchCluster } from "./cluster.js";
import { sleep } from "./util.js";

type Tracked = KubernetesObject & { status?: { conditions?: Condition[]; observedGeneration?: number } };

/**
 * Watches one collection and notes when each object first became Ready for its current generation (what `kubectl
 * wait --for=condition=Ready` sees), from the watch events: no polling load on the API server.
 */
export class ReadyTracker<T extends Tracked = Tracked> {
  readonly informer: Informer<T>;
  /** key -> the first time it was seen Ready (ms since epoch) for the generation in `generations`. */
  private readonly readyAt = new Map<string, number>();
  private readonly generations = new Map<string, number>();
  private readonly waiters = new Set<() => void>();

  constructor(cluster: BenchCluster, path: string) {
    this.informer = new Informer<T>({
      kubeConfig: cluster.kubeConfig,
      http: cluster.http,
      paths: [path],
      logger: silentLogger(),
    });
    this.informer.on((type, object) => {
      const key = objectKey(object);
      if (type === "delete") {
        this.readyAt.delete(key);
        return;
      }
      const generation = object.metadata?.generation ?? 0;
      if (this.generations.get(key) !== generation) {
        this.generations.set(key, generation);
        this.readyAt.delete(key);
      }
      if (!this.readyAt.has(key) && isReady(object)) this.readyAt.set(key, Date.now());
      for (const wake of this.waiters) wake();
    });
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync(120_000);
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  get readyCount(): number {
    return this.readyAt.size;
  }

  readyTime(key: string): number | undefined {
    return this.readyAt.get(key);
  }

  /** The latest first-Ready time among the objects, or undefined when some are not Ready. */
  lastReady(keys: readonly string[]): number | undefined {
    let last = 0;
    for (const key of keys) {
      const at = this.readyAt.get(key);
      if (at === undefined) return undefined;
      last = Math.max(last, at);
    }
    return last;
  }

  /** Resolves true when every key is Ready, false at the deadline. */
  async waitReady(keys: readonly string[], timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.lastReady(keys) === undefined) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 1000));
        this.waiters.add(wake);
      });
    }
    return true;
  }

  /** Why the objects that are not Ready are not: `Reason` -> count, from their Ready condition. */
  notReadyReasons(keys: readonly string[]): Record<string, number> {
    const reasons: Record<string, number> = {};
    for (const key of keys) {
      if (this.readyAt.has(key)) continue;
      const object = this.informer.get(key);
      const ready = findCondition(object?.status?.conditions, "Ready");
      const reason = !object
        ? "Missing"
        : !ready
          ? "NoCondition"
          : ready.observedGeneration !== object.metadata?.generation
            ? `Stale:${ready.reason}`
            : ready.reason;
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
    return reasons;
  }

  /** One example message per reason, for the report. */
  notReadyExamples(keys: readonly string[]): Record<string, string> {
    const examples: Record<string, string> = {};
    for (const key of keys) {
      if (this.readyAt.has(key)) continue;
      const ready = findCondition(this.informer.get(key)?.status?.conditions, "Ready");
      if (ready && !(ready.reason in examples)) examples[ready.reason] = `${key}: ${ready.message}`.slice(0, 400);
    }
    return examples;
  }
}

/** Waits until `probe` has returned the same value for `quietMs` (e.g. a call counter that stopped moving). */
export async function waitQuiet(
  probe: () => Promise<number> | number,
  quietMs: number,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(Math.min(250, quietMs));
    const now = await probe();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return true;
    }
  }
  return false;
}
