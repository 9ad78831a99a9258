import type { V1ObjectMeta } from "@kubernetes/client-node";
import { silentLogger, type Logger } from "../log.js";
import { apiStatusCode, isApiStatus } from "./errors.js";
import type { KubeSource } from "./kube-config.js";
import { KubeHttp } from "./kube-http.js";
import type { Metrics } from "./metrics.js";

/** A coordination.k8s.io/v1 Lease as it travels: times are MicroTime strings (`2025-01-02T03:04:05.678000Z`). */
interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  spec?: LeaseSpec;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface LeaderElectorOptions {
  kubeConfig: KubeSource;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger?: Logger;
  metrics?: Metrics;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  now?: () => number;
}

/** client-go's wait.JitterUntil factor for candidates: spreads their polls so they do not hit the lease together. */
const JITTER_FACTOR = 1.2;

/** The lease record as last seen, and when this process saw it change: expiry is judged on the local clock. */
interface Observation {
  spec: LeaseSpec;
  raw: string;
  at: number;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, ported from client-go's leaderelection package.
 *
 * Safety rests on two rules taken from client-go: a candidate judges a lease expired by when it last saw the
 * record change on its own clock (never by the holder's renewTime, so clock skew between nodes does not matter),
 * and the leader gives up after renewDeadline without a successful renewal, which is shorter than the
 * leaseDuration any candidate waits. Unlike client-go, the leader also stops at once when it sees that another
 * identity has written the lease, instead of waiting for its deadline.
 */
export class LeaderElector {
  /** Connections of its own: renewals must not queue behind the reconcilers' requests. */
  private readonly http: KubeHttp;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private lease: Lease | undefined;
  private observed: Observation | undefined;
  private leading = false;
  /** When the last successful renewal was attempted (this process's clock). */
  private renewedAt = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private running: Promise<void> | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly options: LeaderElectorOptions) {
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (this.leaseDurationMs <= this.renewDeadlineMs)
      throw new Error("leaseDurationMs must be greater than renewDeadlineMs");
    if (this.renewDeadlineMs <= JITTER_FACTOR * this.retryPeriodMs) {
      throw new Error(`renewDeadlineMs must be greater than ${JITTER_FACTOR} x retryPeriodMs`);
    }
    if (!options.identity) throw new Error("identity must not be empty");
    this.http = new KubeHttp(options.kubeConfig);
    this.logger = (options.logger ?? silentLogger()).child({
      lease: `${options.namespace}/${options.name}`,
      identity: options.identity,
    });
    this.now = options.now ?? Date.now;
    this.setLeaderMetric(0);
  }

  /** Campaigns for the lease and, once leading, renews it, until stop(). Leadership lost is campaigned for again. */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Leading, and renewed within the renew deadline by this process's clock: false at once after the process was
   * frozen (a long GC pause, SIGSTOP, a suspended VM) for longer than that, before any timer had a chance to run and
   * step down. Check it right before an irreversible outside write: a successor can hold the lease by then.
   */
  holdsFreshLease(): boolean {
    return this.leading && this.now() - this.renewedAt < this.renewDeadlineMs;
  }

  /**
   * Ends the loop once a request in flight, if any, has finished; calls onStoppedLeading if leading. With `release`,
   * also hands the lease back so a successor need not wait for it to expire: only safe once this process has stopped
   * acting as leader.
   */
  async stop(options: { release: boolean }): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wake?.();
    await this.running;
    this.stopLeading("stopped");
    if (options.release) await this.release();
    this.http.close();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const attemptAt = this.now();
      const succeeded = await this.tryAcquireOrRenew();
      if (this.stopped) return;
      if (succeeded) this.renewed(attemptAt);
      else if (this.leading && this.heldByAnother()) this.stopLeading("another identity holds the lease");
      await this.sleep(this.leading ? this.retryPeriodMs : this.retryPeriodMs * (1 + JITTER_FACTOR * Math.random()));
    }
  }

  /** client-go's tryAcquireOrRenew: true when this identity holds the lease, freshly renewed. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.now();
    // Fast path: the leader updates the version it wrote last; a conflict sends it down the slow path.
    if (this.observedHolder() === this.options.identity && this.observedValid(now) && this.lease) {
      if (await this.replace(this.record(now, this.observed?.spec, true))) return true;
    }
    const current = await this.read();
    if (current === "error") return false;
    if (current === "missing") return this.create(this.record(now, undefined, false));
    this.observe(current);
    const holder = this.observedHolder();
    if (holder && holder !== this.options.identity && this.observedValid(now)) return false;
    return this.replace(this.record(now, current.spec, holder === this.options.identity));
  }

  /** The record to write; `renewing` keeps the acquire time and transition count of a lease this identity holds. */
  private record(now: number, previous: LeaseSpec | undefined, renewing: boolean): LeaseSpec {
    const time = microTime(now);
    const transitions = previous?.leaseTransitions ?? 0;
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: renewing && previous?.acquireTime ? previous.acquireTime : time,
      renewTime: time,
      leaseTransitions: renewing || !previous ? transitions : transitions + 1,
    };
  }

  private async read(): Promise<Lease | "missing" | "error"> {
    try {
      return await this.http.request<Lease>({ method: "GET", path: this.leasePath(), signal: this.deadline() });
    } catch (err) {
      if (isApiStatus(err, 404)) return "missing";
      this.logRequestError(err, "Could not read the lease");
      return "error";
    }
  }

  private async create(spec: LeaseSpec): Promise<boolean> {
    const body: Lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: this.options.name, namespace: this.options.namespace },
      spec,
    };
    const path = `/apis/coordination.k8s.io/v1/namespaces/${this.options.namespace}/leases`;
    try {
      this.written(await this.http.request<Lease>({ method: "POST", path, body, signal: this.deadline() }));
      return true;
    } catch (err) {
      this.logRequestError(err, "Could not create the lease");
      return false;
    }
  }

  /** Writes `spec` over the lease version last read or written: a 409 means another candidate got there first. */
  private async replace(spec: LeaseSpec): Promise<boolean> {
    if (!this.lease) return false;
    const body: Lease = { ...this.lease, spec };
    try {
      this.written(
        await this.http.request<Lease>({ method: "PUT", path: this.leasePath(), body, signal: this.deadline() }),
      );
      return true;
    } catch (err) {
      this.logRequestError(err, "Could not update the lease");
      return false;
    }
  }

  private written(lease: Lease): void {
    this.lease = lease;
    this.observed = { spec: lease.spec ?? {}, raw: rawRecord(lease.spec), at: this.now() };
  }

  private observe(lease: Lease): void {
    this.lease = lease;
    const raw = rawRecord(lease.spec);
    if (raw === this.observed?.raw) return;
    const previousHolder = this.observedHolder();
    this.observed = { spec: lease.spec ?? {}, raw, at: this.now() };
    const holder = this.observedHolder();
    if (holder !== previousHolder) this.logger.info({ holder: holder || undefined }, "Observed a new lease holder");
  }

  private observedHolder(): string {
    return this.observed?.spec.holderIdentity ?? "";
  }

  private observedValid(now: number): boolean {
    if (!this.observed) return false;
    return this.observed.at + (this.observed.spec.leaseDurationSeconds ?? 0) * 1000 > now;
  }

  private heldByAnother(): boolean {
    const holder = this.observedHolder();
    return holder !== "" && holder !== this.options.identity;
  }

  /**
   * `attemptAt` is when the renewal was sent, not when it was answered: the server may have applied it at any
   * moment in between, so counting from the send keeps the deadline on the safe side.
   */
  private renewed(attemptAt: number): void {
    const remaining = attemptAt + this.renewDeadlineMs - this.now();
    if (remaining <= 0) return;
    this.renewedAt = attemptAt;
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(
      () => this.stopLeading("renew deadline passed without a successful renewal"),
      remaining,
    );
    this.deadlineTimer.unref();
    if (!this.leading) this.startLeading();
  }

  private startLeading(): void {
    this.leading = true;
    this.setLeaderMetric(1);
    this.logger.info("Became leader");
    this.callback(this.options.onStartedLeading, "onStartedLeading");
  }

  private stopLeading(reason: string): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (!this.leading) return;
    this.leading = false;
    this.setLeaderMetric(0);
    if (this.stopped) this.logger.info({ reason }, "Stopped leading");
    else this.logger.warn({ reason }, "Stopped leading");
    this.callback(this.options.onStoppedLeading, "onStoppedLeading");
  }

  /**
   * client-go's ReleaseOnCancel: an empty holder lets any candidate take the lease on its next poll. A renewal that
   * timed out on our side may still have landed, leaving our resourceVersion stale: one re-read covers that.
   */
  private async release(): Promise<void> {
    for (let attempt = 0; attempt < 2 && this.observedHolder() === this.options.identity; attempt++) {
      const time = microTime(this.now());
      const spec: LeaseSpec = {
        holderIdentity: "",
        leaseDurationSeconds: 1,
        acquireTime: time,
        renewTime: time,
        leaseTransitions: this.observed?.spec.leaseTransitions ?? 0,
      };
      if (await this.replace(spec)) {
        this.logger.info("Released the lease");
        return;
      }
      const current = await this.read();
      if (typeof current !== "object") return;
      this.observe(current);
    }
  }

  private callback(fn: () => void, name: string): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ err, callback: name }, "Leader election callback threw");
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /**
   * Each request may take half the renew deadline, so a hung connection still leaves time for another attempt
   * before the deadline. stop() lets a request in flight finish rather than abort it: an aborted renewal may
   * still land, and the release that follows needs the resourceVersion it produced.
   */
  private deadline(): AbortSignal {
    return AbortSignal.timeout(this.renewDeadlineMs / 2);
  }

  private leasePath(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.options.namespace}/leases/${this.options.name}`;
  }

  private setLeaderMetric(value: 0 | 1): void {
    this.options.metrics?.leader.set({ name: this.options.name }, value);
  }

  private logRequestError(err: unknown, message: string): void {
    const code = apiStatusCode(err);
    // A conflict is the normal outcome of losing a race to another candidate.
    if (code === 409 || this.stopped) this.logger.debug({ code }, message);
    else this.logger.warn({ err, code }, message);
  }
}

/** The API server's MicroTime format: RFC 3339 with microseconds (a Date has milliseconds only). */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, "000Z");
}

/** The record as compared between reads: equal when nothing but metadata changed. */
function rawRecord(spec: LeaseSpec | undefined): string {
  return JSON.stringify({
    holderIdentity: spec?.holderIdentity ?? "",
    leaseDurationSeconds: spec?.leaseDurationSeconds,
    acquireTime: spec?.acquireTime,
    renewTime: spec?.renewTime,
    leaseTransitions: spec?.leaseTransitions ?? 0,
  });
}
