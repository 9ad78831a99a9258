export type ConditionStatus = "True" | "False" | "Unknown";

/** metav1.Condition */
export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface ConditionUpdate {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/**
 * Returns the conditions with `update` applied. lastTransitionTime moves only when the status flips, so a
 * condition that merely gets re-stated (or a new message) keeps the time it became what it is.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  observedGeneration: number | undefined,
  now: Date = new Date(),
): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === update.type);
  const existing = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    type: update.type,
    status: update.status,
    observedGeneration,
    lastTransitionTime: existing && existing.status === update.status ? existing.lastTransitionTime : rfc3339(now),
    reason: update.reason,
    message: truncate(update.message, 32_768),
  };
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** Whether the Ready condition is True for the object's current generation (what `kubectl wait` and Argo CD read). */
export function isReady(object: {
  metadata?: { generation?: number };
  status?: { conditions?: Condition[] };
}): boolean {
  const ready = findCondition(object.status?.conditions, "Ready");
  return ready?.status === "True" && ready.observedGeneration === object.metadata?.generation;
}

/**
 * Whether a status write would change anything. `lastSyncTime` is left out: it records when status last changed,
 * so a reconcile that observes nothing new writes nothing.
 */
export function statusChanged<S extends { lastSyncTime?: string }>(current: S | undefined, next: S): boolean {
  const strip = (s: S | undefined): unknown => (s ? { ...s, lastSyncTime: undefined } : {});
  return !sameJson(strip(current), strip(next));
}

/**
 * A deep copy of a JSON value (an object's status as the API server sent it): plain objects, arrays and primitives.
 * Several times cheaper than structuredClone, which every reconcile paid for its status copy.
 */
export function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item: unknown) => cloneJson(item)) as T;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = cloneJson(item);
  return copy as T;
}

/**
 * Whether two values would serialize to the same JSON, key order aside: a field set to undefined is the same as no
 * field (JSON drops both). Walks the values once instead of serializing and parsing both (every reconcile asks).
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => sameJson(item ?? null, b[i] ?? null));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const leftKeys = Object.keys(left).filter((key) => left[key] !== undefined);
  const rightCount = Object.keys(right).filter((key) => right[key] !== undefined).length;
  return leftKeys.length === rightCount && leftKeys.every((key) => sameJson(left[key], right[key]));
}

/** Kubernetes dates are RFC 3339 with second precision for metav1.Time. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
