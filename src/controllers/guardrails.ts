import type { BirdWorkspace, LabelSelector, Money } from "../api/v1alpha1/index.js";
import { Reason } from "../api/v1alpha1/conditions.js";
import { compareMoney, formatMoney, CurrencyMismatchError, addMoney } from "../bird/money.js";
import type { Resolution } from "../workspace/connections.js";

/**
 * Whether a namespace may use a workspace. An empty allowedNamespaces admits only the operator's own namespace,
 * so a platform team opts application teams in explicitly.
 */
export function namespaceAllowed(
  workspace: BirdWorkspace,
  namespace: string,
  operatorNamespace: string,
  namespaceLabels: Record<string, string> | undefined,
): Resolution<true> {
  const allowed = workspace.spec.allowedNamespaces;
  const name = workspace.metadata?.name ?? "";
  if (namespace === operatorNamespace) return { ok: true, value: true };
  if (allowed?.names?.includes(namespace)) return { ok: true, value: true };
  if (allowed?.selector && namespaceLabels && matchesSelector(namespaceLabels, allowed.selector))
    return { ok: true, value: true };
  return {
    ok: false,
    reason: Reason.Forbidden,
    message:
      `namespace "${namespace}" may not use BirdWorkspace "${name}": ` +
      "ask the platform team to add it to spec.allowedNamespaces",
  };
}

export function matchesSelector(labels: Record<string, string>, selector: LabelSelector): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = key in labels;
    const value = labels[key];
    if (operator === "In" && !(has && values.includes(value ?? ""))) return false;
    if (operator === "NotIn" && has && values.includes(value ?? "")) return false;
    if (operator === "Exists" && !has) return false;
    if (operator === "DoesNotExist" && has) return false;
  }
  return true;
}

/** A policy violation message, or undefined when the country is allowed. */
export function countryViolation(workspace: BirdWorkspace, countryCode: string): string | undefined {
  const allowed = workspace.spec.policy?.allowedCountries;
  if (!allowed || allowed.length === 0 || allowed.includes(countryCode)) return undefined;
  return (
    `country ${countryCode} is not in BirdWorkspace "${workspace.metadata?.name}" spec.policy.allowedCountries ` +
    `(${allowed.join(", ")})`
  );
}

/** A message when `price` is above `limit`; a limit in another currency cannot be checked and refuses too. */
export function priceViolation(price: Money, limit: Money | undefined, what: string): string | undefined {
  if (!limit) return undefined;
  try {
    if (compareMoney(price, limit) <= 0) return undefined;
    return `${formatMoney(price)} is above ${what} ${formatMoney(limit)}`;
  } catch (error) {
    if (error instanceof CurrencyMismatchError) {
      return (
        `the price ${formatMoney(price)} cannot be checked against ${what} ${formatMoney(limit)} ` +
        "(different currency)"
      );
    }
    throw error;
  }
}

/**
 * Whether adding `prices` (what is committed plus what is about to be) stays within a monthly spend limit: undefined
 * when it does, else what is wrong. Prices in another currency than the limit cannot be added up, so the check fails
 * closed and says how to fix the limit.
 */
export function spendViolation(
  prices: Money[],
  limit: Money,
  what: string,
): { total?: Money; message: string } | undefined {
  const foreign = prices.find((price) => price.currencyCode !== limit.currencyCode);
  if (foreign) {
    return {
      message:
        `${what} is in ${limit.currencyCode} but Bird prices this workspace in ${foreign.currencyCode}, ` +
        `so the spend cannot be checked; set the limit in ${foreign.currencyCode}`,
    };
  }
  const { total } = sumMoney(prices, limit.currencyCode);
  return compareMoney(total, limit) <= 0
    ? undefined
    : { total, message: `${formatMoney(total)} is above ${what} ${formatMoney(limit)}` };
}

/** Sums prices in one currency; prices in other currencies are skipped and reported. */
export function sumMoney(prices: Money[], currencyCode: string): { total: Money; skipped: number } {
  let total: Money = { currencyCode, amount: 0, exponent: -6 };
  let skipped = 0;
  for (const price of prices) {
    if (price.currencyCode !== currencyCode) skipped++;
    else total = addMoney(total, price);
  }
  return { total, skipped };
}
