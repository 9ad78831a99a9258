import type { ChaosEnv } from "./env.js";

export interface KubeEvent {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  involvedObject?: { kind?: string; name?: string; namespace?: string };
}

export async function eventsIn(env: ChaosEnv, namespace: string): Promise<KubeEvent[]> {
  return (await env.getJson<{ items: KubeEvent[] }>(["events", "-n", namespace])).items;
}

/** Occurrences per reason (aggregated Events carry a count). */
export function countByReason(events: KubeEvent[], type?: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of events) {
    if (type && e.type !== type) continue;
    const reason = e.reason ?? "?";
    counts[reason] = (counts[reason] ?? 0) + (e.count ?? 1);
  }
  return counts;
}
