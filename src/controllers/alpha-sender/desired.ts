import type {
  AlphaSender,
  AlphaSenderCountryStatus,
  AlphaSenderSpec,
  AlphaSenderStatus,
  BirdWorkspace,
  Money,
} from "../../api/v1alpha1/index.js";
import { Reason, READY } from "../../api/v1alpha1/conditions.js";
import { formatMoney } from "../../bird/money.js";
import type { AlphaNumber, Destination, EndpointSubscription } from "../../bird/types.js";
import type { ConditionUpdate } from "../../runtime/status.js";
import { boundedList, boundedOptional } from "../bounded.js";
import { countryViolation, priceViolation, spendViolation } from "../guardrails.js";

/** Alpha senders only send sms; it is the one capability whose destinations they have. */
export const CAPABILITY = "sms";

/**
 * A country row's `status`: Bird's own values (`active`, `inactive`, or anything else it sends) plus three of ours
 * for countries Bird holds no state for: not activated yet, refused by a guardrail, or refused by Bird as a
 * destination the sender can never serve.
 */
export const CountryState = {
  Active: "active",
  Inactive: "inactive",
  Pending: "pending",
  Refused: "refused",
  Unavailable: "unavailable",
} as const;

export type CountryRow = AlphaSenderCountryStatus;

/** The spec's countries, deduplicated and sorted. */
export function desiredCountries(spec: AlphaSenderSpec): string[] {
  return [...new Set(spec.countries ?? [])].sort();
}

/** The name users know the sender by, for messages. */
export function senderName(spec: AlphaSenderSpec): string {
  return spec.alphaString ?? spec.alphaNumberId ?? "the sender";
}

/** Whether a spec names this sender (by id or by its alphanumeric string). */
export function claimsSender(spec: AlphaSenderSpec, sender: Pick<AlphaNumber, "id" | "alphaString">): boolean {
  if (spec.alphaNumberId !== undefined) return spec.alphaNumberId === sender.id;
  return spec.alphaString !== undefined && spec.alphaString === sender.alphaString;
}

export function findSender(spec: AlphaSenderSpec, senders: readonly AlphaNumber[]): AlphaNumber | undefined {
  return senders.find((sender) => claimsSender(spec, sender));
}

/** Oldest claim first: creationTimestamp, then namespace/name so that equal timestamps still have one winner. */
export function compareClaims(a: AlphaSender, b: AlphaSender): number {
  const at = Date.parse(String(a.metadata?.creationTimestamp ?? ""));
  const bt = Date.parse(String(b.metadata?.creationTimestamp ?? ""));
  const byTime = (Number.isNaN(at) ? Infinity : at) - (Number.isNaN(bt) ? Infinity : bt);
  if (byTime !== 0 && !Number.isNaN(byTime)) return byTime;
  const ak = `${a.metadata?.namespace ?? ""}/${a.metadata?.name ?? ""}`;
  const bk = `${b.metadata?.namespace ?? ""}/${b.metadata?.name ?? ""}`;
  return ak < bk ? -1 : ak > bk ? 1 : 0;
}

/** The AlphaSender that manages a sender when several claim it: the oldest. */
export function senderOwner(claimants: readonly AlphaSender[]): AlphaSender | undefined {
  return [...claimants].sort(compareClaims)[0];
}

/** What status reports about the sender itself, straight from Bird. */
export function senderStatus(
  sender: AlphaNumber,
): Pick<AlphaSenderStatus, "alphaNumberId" | "endpointId" | "alphaString" | "provisioningStatus" | "issues"> {
  return {
    alphaNumberId: sender.id,
    endpointId: sender.endpointId,
    alphaString: sender.alphaString,
    provisioningStatus: boundedOptional(sender.endpoint?.provisioningStatus),
    issues: boundedList(sender.endpoint?.issues ?? []),
  };
}

export function isProvisioned(sender: AlphaNumber): boolean {
  return sender.endpoint?.provisioningStatus === "provisioned";
}

/** How many sms destinations Bird counts as active on the sender, when it says. */
export function activeDestinationCount(sender: AlphaNumber): number | undefined {
  return sender.endpoint?.capabilities?.find((c) => c.name === CAPABILITY)?.outbound?.destinationStatuses?.active;
}

/**
 * Bird lists no sender's individual destinations, only how many are active. Fewer active than the rows we know to
 * be active means someone deactivated one of ours outside the operator (other countries of the sender can only
 * add to the count, so this never fires falsely; it can miss a deactivation hidden by an unmanaged activation).
 */
export function destinationsDrifted(rows: Iterable<CountryRow>, sender: AlphaNumber): boolean {
  const observed = activeDestinationCount(sender);
  if (observed === undefined) return false;
  let believed = 0;
  for (const row of rows) if (row.status === CountryState.Active) believed++;
  return observed < believed;
}

/**
 * The rows of every country the resource manages (desired now, or recorded from an earlier spec), refreshed from
 * the sender's subscriptions (named after the country). A subscription is the only per-country state Bird lists,
 * so what it does not carry is kept from the previous row: whether Bird blocks the country, its issues, and our own
 * pending/refused/unavailable states.
 */
export function observeCountries(
  desired: readonly string[],
  previous: readonly CountryRow[],
  subscriptions: readonly EndpointSubscription[],
): Map<string, CountryRow> {
  const before = new Map(previous.map((row) => [row.countryCode, row]));
  const byName = new Map(subscriptions.map((s) => [s.name, s]));
  const rows = new Map<string, CountryRow>();
  for (const countryCode of [...new Set([...desired, ...before.keys()])].sort()) {
    rows.set(countryCode, observeCountry(countryCode, before.get(countryCode), byName.get(countryCode)));
  }
  return rows;
}

function observeCountry(
  countryCode: string,
  previous: CountryRow | undefined,
  subscription: EndpointSubscription | undefined,
): CountryRow {
  const paid = subscription?.status === CountryState.Active;
  const row: CountryRow = {
    countryCode,
    status: observedState(previous, subscription),
    blocked: paid ? false : (previous?.blocked ?? false),
    issues: [...(previous?.issues ?? [])],
  };
  if (subscription) row.subscription = { status: subscription.status, price: subscription.price };
  else if (previous?.status === CountryState.Refused && previous.subscription?.price)
    row.subscription = { price: previous.subscription.price };
  return row;
}

function observedState(previous: CountryRow | undefined, subscription: EndpointSubscription | undefined): string {
  if (subscription?.status === CountryState.Active) return CountryState.Active;
  if (previous?.blocked) return previous.status ?? CountryState.Inactive;
  const ours: string[] = [CountryState.Pending, CountryState.Refused, CountryState.Unavailable];
  if (previous?.status !== undefined && ours.includes(previous.status)) return previous.status;
  if (subscription) return CountryState.Inactive;
  // Active without any subscription: Bird charges this country some other way; the activate answer stands.
  return previous?.status ?? CountryState.Pending;
}

export interface CountryPlan {
  /** Paid for and believed active, re-activated because Bird counts fewer active destinations (drift). */
  repair: string[];
  /** Not active: to activate once the guardrails allow it. */
  activate: string[];
  /** No longer desired and active in Bird: deactivate. */
  deactivate: string[];
  /** No longer desired with a running subscription: cancel it (after deactivating). */
  cancel: string[];
  /** No longer desired, nothing running in Bird: forget the row. */
  drop: string[];
}

/**
 * What to change so Bird matches the spec. Blocked and unavailable countries are asked again only when the spec
 * changes: Bird's answer would not change on its own, and asking every resync would be a write per resync.
 */
export function planCountries(
  desired: readonly string[],
  rows: ReadonlyMap<string, CountryRow>,
  options: { drifted: boolean; specChanged: boolean },
): CountryPlan {
  const plan: CountryPlan = { repair: [], activate: [], deactivate: [], cancel: [], drop: [] };
  const wanted = new Set(desired);
  for (const [country, row] of rows) {
    const active = row.status === CountryState.Active;
    if (!wanted.has(country)) {
      if (active) plan.deactivate.push(country);
      if (row.subscription?.status === CountryState.Active) plan.cancel.push(country);
      if (!active && row.subscription?.status !== CountryState.Active) plan.drop.push(country);
      continue;
    }
    if (active) {
      if (options.drifted) plan.repair.push(country);
      continue;
    }
    const settled = row.blocked === true || row.status === CountryState.Unavailable;
    if (!settled || options.specChanged) plan.activate.push(country);
  }
  return plan;
}

/** The limits a new country's price must fit, and what the workspace already spends. */
export interface Guardrails {
  workspace: BirdWorkspace;
  /** spec.maxMonthlyPricePerCountry */
  maxPrice?: Money;
  /**
   * Monthly prices already committed in the workspace (numbers and sender countries), counted when asked: only a spend
   * limit needs them, and counting walks the workspace's records.
   */
  committed: () => Money[];
}

export interface Refusal {
  reason: string;
  message: string;
}

/** Prices matter only when a limit applies; without one no validate-only call is made. */
export function needsQuote(guard: Guardrails): boolean {
  return guard.maxPrice !== undefined || guard.workspace.spec.policy?.maxMonthlySpend !== undefined;
}

export function policyRefusal(country: string, guard: Guardrails): Refusal | undefined {
  const violation = countryViolation(guard.workspace, country);
  return violation ? { reason: Reason.PolicyViolation, message: violation } : undefined;
}

/** A country without a quoted price is one Bird would not charge for (it quotes only what it charges). */
export function priceRefusal(country: string, price: Money | undefined, guard: Guardrails): Refusal | undefined {
  const violation = price ? priceViolation(price, guard.maxPrice, "spec.maxMonthlyPricePerCountry") : undefined;
  return violation ? { reason: Reason.PriceAboveLimit, message: `${country} costs ${violation}` } : undefined;
}

function spendRefusal(country: string, price: Money, guard: Guardrails): Refusal {
  const name = guard.workspace.metadata?.name ?? "";
  const limit = guard.workspace.spec.policy?.maxMonthlySpend;
  return {
    reason: Reason.QuotaExceeded,
    message:
      `${country} (${formatMoney(price)} a month) does not fit in what is left of BirdWorkspace "${name}" ` +
      `spec.policy.maxMonthlySpend${limit ? ` ${formatMoney(limit)}` : ""}`,
  };
}

/**
 * Splits quoted countries into those to activate and those refused: price limit first, then the workspace's
 * monthly spend, counting the countries accepted before (in order) so a batch cannot overshoot it together.
 */
export function screenPrices(
  countries: readonly string[],
  prices: Readonly<Record<string, Money>>,
  guard: Guardrails,
): { accepted: string[]; refused: Map<string, Refusal> } {
  const accepted: string[] = [];
  const refused = new Map<string, Refusal>();
  const spendLimit = guard.workspace.spec.policy?.maxMonthlySpend;
  // What is committed (counted on first need), then each price accepted here.
  let spent: Money[] | undefined;
  for (const country of countries) {
    const price = prices[country];
    const byPrice = priceRefusal(country, price, guard);
    if (byPrice) {
      refused.set(country, byPrice);
      continue;
    }
    if (price && spendLimit) {
      spent ??= [...guard.committed()];
      const violation = spendViolation([...spent, price], spendLimit, "spec.policy.maxMonthlySpend");
      if (violation) {
        refused.set(
          country,
          violation.total
            ? spendRefusal(country, price, guard)
            : {
                reason: Reason.QuotaExceeded,
                message: `${country}: BirdWorkspace "${guard.workspace.metadata?.name ?? ""}" ${violation.message}`,
              },
        );
        continue;
      }
      spent.push(price);
    }
    accepted.push(country);
  }
  return { accepted, refused };
}

/** The row of a country a guardrail refused; the quoted price is kept so later checks need no new quote. */
export function refusedRow(countryCode: string, price: Money | undefined): CountryRow {
  return {
    countryCode,
    status: CountryState.Refused,
    blocked: false,
    issues: [],
    ...(price ? { subscription: { price } } : {}),
  };
}

/** The row of a country Bird refused to serve at all (e.g. alpha senders cannot reach the USA). */
export function unavailableRow(countryCode: string, code: string | undefined): CountryRow {
  return { countryCode, status: CountryState.Unavailable, blocked: false, issues: code ? [code] : [] };
}

/** A country's row after an activate or deactivate answer: its sms state, whether Bird blocks it, its issues. */
export function answeredRow(
  previous: CountryRow | undefined,
  countryCode: string,
  destination: Destination | undefined,
  fallback: string,
  price?: Money,
): CountryRow {
  const sms = destination?.capabilities?.find((c) => c.name === CAPABILITY);
  const row: CountryRow = {
    countryCode,
    status: sms?.status ?? fallback,
    blocked: destination?.isBlockedForCapability?.[CAPABILITY] ?? false,
    issues: boundedList(sms?.issues ?? []),
  };
  if (previous?.subscription && previous.status !== CountryState.Refused) row.subscription = previous.subscription;
  // A country activated for a sender is charged through a subscription named after it, at the price Bird answered.
  else if (price && row.status === CountryState.Active && !row.blocked)
    row.subscription = { status: CountryState.Active, price };
  return row;
}

/** Status rows in a stable order. */
export function sortedRows(rows: ReadonlyMap<string, CountryRow>): CountryRow[] {
  return [...rows.values()].sort((a, b) =>
    a.countryCode < b.countryCode ? -1 : a.countryCode > b.countryCode ? 1 : 0,
  );
}

/**
 * Ready: the sender is provisioned without issues and every desired country is active; otherwise the first problem
 * gives the reason and every problem is in the message. ObserveOnly asks only that the sender be healthy.
 */
export function senderReadiness(input: {
  name: string;
  desired: readonly string[];
  rows: ReadonlyMap<string, CountryRow>;
  issues: readonly string[];
  guard: Guardrails;
  observeOnly: boolean;
}): ConditionUpdate {
  const { name, desired, rows, issues, guard, observeOnly } = input;
  const problems: Refusal[] = [];
  if (issues.length)
    problems.push({
      reason: Reason.BirdIssues,
      message: `Bird reports issues for sender ${name}: ${issues.join(", ")}`,
    });
  const wanted = desired.map((c) => rows.get(c) ?? { countryCode: c, status: CountryState.Pending });
  if (!observeOnly) problems.push(...countryProblems(name, wanted, guard));
  if (problems.length === 0) {
    const active = wanted.filter((r) => r.status === CountryState.Active).length;
    const suffix = observeOnly ? " (observed only)" : "";
    return {
      type: READY,
      status: "True",
      reason: Reason.Available,
      message: `sender ${name} is provisioned; ${active} of ${desired.length} countries active${suffix}`,
    };
  }
  return {
    type: READY,
    status: "False",
    reason: problems[0]?.reason ?? Reason.DestinationsPending,
    message: problems.map((p) => p.message).join("; "),
  };
}

function countryProblems(name: string, rows: readonly CountryRow[], guard: Guardrails): Refusal[] {
  const problems: Refusal[] = [];
  const blocked = rows.filter((r) => r.blocked === true).map((r) => r.countryCode);
  if (blocked.length) {
    problems.push({
      reason: Reason.CountryBlocked,
      message:
        `Bird blocks sms from sender ${name} to ${blocked.join(", ")}: complete the sender's registration for ` +
        "these countries with Bird, then change the resource to retry (or remove them from spec.countries)",
    });
  }
  const refused = rows.filter((r) => r.status === CountryState.Refused).map((r) => refusalOf(r, guard));
  for (const reason of [Reason.PriceAboveLimit, Reason.PolicyViolation, Reason.QuotaExceeded]) {
    const messages = refused.filter((r) => r.reason === reason).map((r) => r.message);
    if (messages.length) problems.push({ reason, message: `not activated: ${messages.join("; ")}` });
  }
  const unavailable = rows.filter((r) => r.status === CountryState.Unavailable).map((r) => r.countryCode);
  if (unavailable.length) {
    problems.push({
      reason: Reason.CountryUnavailable,
      message:
        `Bird cannot send sms from alphanumeric senders to ${unavailable.join(", ")}: ` +
        "remove them from spec.countries",
    });
  }
  const handled = new Set<string>([CountryState.Active, CountryState.Refused, CountryState.Unavailable]);
  const pending = rows
    .filter((r) => !r.blocked && !handled.has(r.status ?? ""))
    .map((r) => `${r.countryCode}=${r.status ?? CountryState.Pending}`);
  if (pending.length)
    problems.push({ reason: Reason.DestinationsPending, message: `countries not active yet: ${pending.join(", ")}` });
  return problems;
}

/** Why a refused row is refused, recomputed from its recorded quote and the current limits. */
function refusalOf(row: CountryRow, guard: Guardrails): Refusal {
  const price = row.subscription?.price;
  const refusal = policyRefusal(row.countryCode, guard) ?? priceRefusal(row.countryCode, price, guard);
  if (refusal) return refusal;
  if (price && guard.workspace.spec.policy?.maxMonthlySpend) return spendRefusal(row.countryCode, price, guard);
  return { reason: Reason.DestinationsPending, message: `${row.countryCode} waits for activation` };
}
