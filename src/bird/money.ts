import type { components } from "./schema.js";

/** Bird's money: `amount` x 10^`exponent` in `currencyCode`, e.g. {EUR, 3500000, -6} = 3.50 EUR. */
export type Money = components["schemas"]["Money"];

export class CurrencyMismatchError extends Error {
  constructor(
    readonly a: Money,
    readonly b: Money,
    operation: string,
  ) {
    super(`Cannot ${operation} ${formatMoney(a)} and ${formatMoney(b)}: currencies differ`);
    this.name = "CurrencyMismatchError";
  }
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;
const CURRENCY = /^[A-Z]{3}$/;

/** Builds Money from a decimal string (`money("EUR", "3.50")`), exactly: no floating point on the way. */
export function money(currencyCode: string, decimal: string): Money {
  if (!CURRENCY.test(currencyCode)) {
    throw new RangeError(`Invalid currency code ${JSON.stringify(currencyCode)}: expected three capital letters`);
  }
  const match = DECIMAL.exec(decimal.trim());
  if (!match) {
    throw new RangeError(`Invalid amount ${JSON.stringify(decimal)}: expected a decimal number like "3.50"`);
  }
  const [, sign = "", whole = "", fraction = ""] = match;
  const amount = Number(BigInt(`${sign}${whole}${fraction}`));
  if (!Number.isSafeInteger(amount)) {
    throw new RangeError(`Amount ${decimal} has too many digits to be represented exactly`);
  }
  return { currencyCode, amount, exponent: fraction.length === 0 ? 0 : -fraction.length };
}

/**
 * The scaled integer behind a Money, as a BigInt. Bird's amounts are integers; a fractional or unsafe one means a
 * malformed answer, and comparing it would silently round, so it is refused.
 */
function units(m: Money): bigint {
  if (!Number.isSafeInteger(m.amount) || !Number.isSafeInteger(m.exponent)) {
    throw new RangeError(`Invalid money ${JSON.stringify(m)}: amount and exponent must be integers`);
  }
  return BigInt(m.amount);
}

/** Both amounts rescaled to the smaller exponent, so they compare and add as integers. */
function aligned(a: Money, b: Money, operation: string): { a: bigint; b: bigint; exponent: number } {
  if (a.currencyCode !== b.currencyCode) {
    throw new CurrencyMismatchError(a, b, operation);
  }
  const exponent = Math.min(a.exponent, b.exponent);
  return {
    a: units(a) * 10n ** BigInt(a.exponent - exponent),
    b: units(b) * 10n ** BigInt(b.exponent - exponent),
    exponent,
  };
}

/** -1, 0 or 1. Throws CurrencyMismatchError when the currencies differ: there is no exchange rate here. */
export function compareMoney(a: Money, b: Money): -1 | 0 | 1 {
  const { a: x, b: y } = aligned(a, b, "compare");
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isAtMost(m: Money, limit: Money): boolean {
  return compareMoney(m, limit) <= 0;
}

export function addMoney(a: Money, b: Money): Money {
  const { a: x, b: y, exponent } = aligned(a, b, "add");
  const amount = Number(x + y);
  if (!Number.isSafeInteger(amount)) {
    throw new RangeError(`Sum of ${formatMoney(a)} and ${formatMoney(b)} is too large to be represented exactly`);
  }
  return { currencyCode: a.currencyCode, amount, exponent };
}

/** The exact decimal value as a string with every significant digit ("3.500000" for {3500000, -6}). */
export function toDecimalString(m: Money): string {
  const value = units(m);
  const digits = (value < 0n ? -value : value).toString();
  const sign = value < 0n ? "-" : "";
  if (m.exponent >= 0) {
    return `${sign}${digits}${"0".repeat(m.exponent)}`;
  }
  const scale = -m.exponent;
  const padded = digits.padStart(scale + 1, "0");
  return `${sign}${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
}

/**
 * The value as a JavaScript number, for metrics and display only: compare with compareMoney, never with this. A safe
 * integer amount and a power of ten up to 10^22 are both exact doubles, and IEEE division and multiplication round
 * their exact result once, as Number() rounds the exact decimal: the same number, without a BigInt and a string (a
 * scrape sums 100,000 prices).
 */
export function toNumber(m: Money): number {
  if (m.amount === 0) return 0;
  if (Number.isSafeInteger(m.amount) && Number.isInteger(m.exponent) && Math.abs(m.exponent) <= 22)
    return m.exponent < 0 ? m.amount / 10 ** -m.exponent : m.amount * 10 ** m.exponent;
  return Number(toDecimalString(m));
}

/** "3.50 EUR": at least two decimals, trailing zeros beyond those trimmed ("1.234567 EUR", "5.00 EUR"). */
export function formatMoney(m: Money): string {
  const [whole = "0", fraction = ""] = toDecimalString(m).split(".");
  const trimmed = fraction.replace(/0+$/, "").padEnd(2, "0");
  return `${whole}.${trimmed} ${m.currencyCode}`;
}
