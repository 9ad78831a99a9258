import { Reason } from "../api/v1alpha1/conditions.js";
import {
  ALPHA_SENDER_KIND,
  PHONE_NUMBER_KIND,
  type BirdNumber,
  type BirdSender,
  type BirdWorkspace,
  type Money,
  type RecordPhase,
} from "../api/v1alpha1/index.js";
import { toNumber } from "../bird/money.js";
import type { WorkspaceConnections } from "../workspace/connections.js";
import type { Informer } from "../runtime/informer.js";
import type { Metrics } from "../runtime/metrics.js";
import { Phase, type RecordStore } from "./records.js";
import type { UsageBook, UsageSource } from "./usage.js";

export interface WorkspaceMetricsSources {
  workspaces: Pick<Informer<BirdWorkspace>, "list" | "on">;
  numberRecords: RecordStore<BirdNumber>;
  senderRecords: RecordStore<BirdSender>;
  usage: UsageBook;
  connections: Pick<WorkspaceConnections, "connect">;
  isLeader: () => boolean;
}

const PHASES = Object.values(Phase) as RecordPhase[];
/** A record not given a phase yet (created a moment ago), or with one this version does not know. */
const NO_PHASE = "Unknown";
const CURRENCY = /^[A-Z]{3}$/;
/** The reasons a purchase is refused with (bird_operator_purchases_refused_total). */
const REFUSALS = [
  Reason.QuotaExceeded,
  Reason.PolicyViolation,
  Reason.PriceAboveLimit,
  Reason.NumberUnavailable,
  Reason.CannotPurchase,
];

/**
 * The `bird_operator_workspace_*` gauges: what each workspace pays for, as its spend and quota policies count it
 * (records of every phase, claims in flight and numbers in Bird no record knows: see workspaceUsage), its records by
 * phase, and the headroom its policy leaves. Read from the caches at each scrape, by the leader only (the standby would
 * export the same values: see exportResourceConditions), with the workspace's counters started at 0. Every phase is
 * exported, 0 included, so a query sees a phase empty out instead of a series vanishing.
 */
export function exportWorkspaceUsage(metrics: Metrics, sources: WorkspaceMetricsSources): void {
  const gauges = [
    metrics.workspaceMonthlySpend,
    metrics.workspaceSpendLimit,
    metrics.workspaceSpendHeadroom,
    metrics.workspaceNumbers,
    metrics.workspaceNumbersBilled,
    metrics.workspaceNumberLimit,
    metrics.workspaceNumbersHeadroom,
    metrics.workspaceSenders,
    metrics.workspaceSenderCountries,
  ];
  // Workspaces come and go: a deleted one's counters go with it, or their series would pile up for good.
  sources.workspaces.on((type, workspace) => {
    if (type === "delete") removeCounters(metrics, workspace.metadata?.name ?? "");
  });
  metrics.setView("workspaces", () => {
    for (const gauge of gauges) gauge.reset();
    if (!sources.isLeader()) return;
    for (const workspace of sources.workspaces.list()) exportWorkspace(metrics, sources, workspace);
  });
}

function exportWorkspace(metrics: Metrics, sources: WorkspaceMetricsSources, workspace: BirdWorkspace): void {
  const name = workspace.metadata?.name ?? "";
  startCounters(metrics, name);
  const numbers = sources.numberRecords.inWorkspace(name);
  const senders = sources.senderRecords.inWorkspace(name);
  for (const [phase, count] of byPhase(numbers)) metrics.workspaceNumbers.set({ workspace: name, phase }, count);
  for (const [phase, count] of byPhase(senders)) metrics.workspaceSenders.set({ workspace: name, phase }, count);
  metrics.workspaceSenderCountries.set(
    { workspace: name },
    senders.reduce((n, s) => n + (s.status?.countries?.length ?? 0), 0),
  );

  const usage = sources.usage.of(usageSource(sources, workspace));
  metrics.workspaceNumbersBilled.set({ workspace: name }, usage.numbers);
  const spend = totals(usage.prices);
  const policy = workspace.spec.policy;
  const limit = policy?.maxMonthlySpend;
  if (limit) spend.set(limit.currencyCode, spend.get(limit.currencyCode) ?? 0);
  for (const [currency, amount] of spend) metrics.workspaceMonthlySpend.set({ workspace: name, currency }, amount);
  if (limit) {
    metrics.workspaceSpendLimit.set({ workspace: name, currency: limit.currencyCode }, toNumber(limit));
    metrics.workspaceSpendHeadroom.set(
      { workspace: name, currency: limit.currencyCode },
      toNumber(limit) - (spend.get(limit.currencyCode) ?? 0),
    );
  }
  if (policy?.maxNumbers !== undefined) {
    metrics.workspaceNumberLimit.set({ workspace: name }, policy.maxNumbers);
    metrics.workspaceNumbersHeadroom.set({ workspace: name }, policy.maxNumbers - usage.numbers);
  }
}

/**
 * The workspace's counters start at 0: Prometheus' increase() cannot see the first increment of a series that starts
 * at 1, so without this the first refusal of a workspace would never raise an alert.
 */
function startCounters(metrics: Metrics, workspace: string): void {
  for (const kind of [PHONE_NUMBER_KIND, ALPHA_SENDER_KIND]) {
    metrics.purchases.inc({ workspace, kind }, 0);
    metrics.cancellations.inc({ workspace, kind }, 0);
    for (const reason of REFUSALS) metrics.purchasesRefused.inc({ workspace, kind, reason }, 0);
  }
}

function removeCounters(metrics: Metrics, workspace: string): void {
  for (const kind of [PHONE_NUMBER_KIND, ALPHA_SENDER_KIND]) {
    metrics.purchases.remove({ workspace, kind });
    metrics.cancellations.remove({ workspace, kind });
    // Every reason a condition can carry, not only REFUSALS: a refusal is counted under the reason it was shown with.
    for (const reason of Object.values(Reason)) metrics.purchasesRefused.remove({ workspace, kind, reason });
  }
}

/** The workspace with its inventory when it has a connection; without one (no AccessKey), the records alone count. */
function usageSource(sources: WorkspaceMetricsSources, workspace: BirdWorkspace): UsageSource {
  const connection = sources.connections.connect(workspace.metadata?.name ?? "");
  if (connection.ok) return connection.value;
  return { workspace, inventory: { cachedByString: () => undefined, activeNumberStrings: () => [] } };
}

function byPhase(records: readonly (BirdNumber | BirdSender)[]): Map<string, number> {
  const counts = new Map<string, number>(PHASES.map((phase) => [phase, 0]));
  for (const record of records) {
    const phase = record.status?.phase;
    const key = phase && counts.has(phase) ? phase : NO_PHASE;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Monthly prices summed by currency, in the currency's units (3.5 for 3.50 EUR). */
function totals(prices: readonly Money[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const price of prices)
    if (CURRENCY.test(price.currencyCode))
      sums.set(price.currencyCode, (sums.get(price.currencyCode) ?? 0) + toNumber(price));
  return sums;
}
