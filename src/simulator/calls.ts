export interface CallRecord {
  time: string;
  method: string;
  /** The route template, or `unmatched`. */
  route: string;
  path: string;
  /** 0 when a fault destroyed the connection instead of answering. */
  status: number;
  durationMs: number;
  fault?: "reset" | "malformed" | "server-error" | "rate-limit-burst";
  body?: unknown;
}

export interface CallCount {
  method: string;
  route: string;
  status: number;
  count: number;
}

export interface CallStats {
  total: number;
  counts: CallCount[];
  /** Oldest first, at most the log size. */
  recent: CallRecord[];
}

/** Counts every public API call; keeps the recent ones in a ring buffer so a long benchmark cannot grow it. */
export class CallRecorder {
  private readonly counts = new Map<string, CallCount>();
  private ring: (CallRecord | undefined)[];
  private next = 0;
  private total = 0;

  constructor(private readonly size = 1000) {
    this.ring = new Array<CallRecord | undefined>(size);
  }

  record(call: CallRecord): void {
    const key = `${call.method} ${call.route} ${call.status}`;
    const count = this.counts.get(key);
    if (count) count.count++;
    else this.counts.set(key, { method: call.method, route: call.route, status: call.status, count: 1 });
    this.total++;
    if (this.size === 0) return;
    this.ring[this.next] = call;
    this.next = (this.next + 1) % this.size;
  }

  stats(): CallStats {
    const recent = [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)].filter(
      (call): call is CallRecord => call !== undefined,
    );
    return { total: this.total, counts: [...this.counts.values()].map((c) => ({ ...c })), recent };
  }

  /**
   * Calls matching all given fields; e.g. `count({ method: "POST",
   * route: "/workspaces/{workspaceId}/numbers-long-code" })`.
   */
  count(filter: Partial<Omit<CallCount, "count">> = {}): number {
    let sum = 0;
    for (const c of this.counts.values()) {
      if (filter.method !== undefined && c.method !== filter.method) continue;
      if (filter.route !== undefined && c.route !== filter.route) continue;
      if (filter.status !== undefined && c.status !== filter.status) continue;
      sum += c.count;
    }
    return sum;
  }

  reset(): void {
    this.counts.clear();
    this.ring = new Array<CallRecord | undefined>(this.size);
    this.next = 0;
    this.total = 0;
  }
}
