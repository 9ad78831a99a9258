import { describe, expect, it } from "vitest";
import {
  addMoney,
  compareMoney,
  CurrencyMismatchError,
  formatMoney,
  isAtMost,
  money,
  toDecimalString,
  toNumber,
  type Money,
} from "../../src/bird/index.js";

const m = (amount: number, exponent: number, currencyCode = "EUR"): Money => ({ currencyCode, amount, exponent });

describe("formatMoney", () => {
  it.each([
    { reason: "Bird's documented example", value: m(3500000, -6), want: "3.50 EUR" },
    { reason: "all six decimals significant", value: m(1234567, -6), want: "1.234567 EUR" },
    { reason: "trailing zeros beyond two trimmed", value: m(1230000, -6), want: "1.23 EUR" },
    { reason: "three decimals kept", value: m(1235, -3), want: "1.235 EUR" },
    { reason: "whole amount gets two decimals", value: m(5, 0, "USD"), want: "5.00 USD" },
    { reason: "positive exponent", value: m(5, 2, "IDR"), want: "500.00 IDR" },
    { reason: "below one", value: m(5, -6), want: "0.000005 EUR" },
    { reason: "one decimal padded", value: m(15, -1), want: "1.50 EUR" },
    { reason: "zero", value: m(0, -6), want: "0.00 EUR" },
    { reason: "negative", value: m(-350, -2), want: "-3.50 EUR" },
  ])("$reason", ({ value, want }) => {
    expect(formatMoney(value)).toBe(want);
  });
});

describe("toNumber and toDecimalString", () => {
  it.each([
    { value: m(3500000, -6), decimal: "3.500000", number: 3.5 },
    { value: m(10, -1), decimal: "1.0", number: 1 },
    { value: m(7, 3), decimal: "7000", number: 7000 },
    { value: m(-1, -2), decimal: "-0.01", number: -0.01 },
    { value: m(1, -20), decimal: "0.00000000000000000001", number: 1e-20 },
  ])("$decimal", ({ value, decimal, number }) => {
    expect(toDecimalString(value)).toBe(decimal);
    expect(toNumber(value)).toBe(number);
  });
});

describe("compareMoney and isAtMost", () => {
  it.each([
    { reason: "equal at different exponents", a: m(3500000, -6), b: m(350, -2), cmp: 0 },
    { reason: "smaller", a: m(349, -2), b: m(3500000, -6), cmp: -1 },
    { reason: "larger by one micro-unit", a: m(3500001, -6), b: m(350, -2), cmp: 1 },
    {
      reason: "where float addition would round (0.1 + 0.2 vs 0.3)",
      a: addMoney(m(1, -1), m(2, -1)),
      b: m(3, -1),
      cmp: 0,
    },
    { reason: "negative against positive", a: m(-1, 0), b: m(0, 0), cmp: -1 },
    {
      reason: "large amounts beyond float precision after scaling",
      a: m(9007199254740991, -2),
      b: m(9007199254740990, -2),
      cmp: 1,
    },
  ])("$reason", ({ a, b, cmp }) => {
    expect(compareMoney(a, b)).toBe(cmp);
    expect(isAtMost(a, b)).toBe(cmp <= 0);
  });

  it("refuses to compare different currencies, naming both", () => {
    expect(() => compareMoney(m(350, -2, "EUR"), m(350, -2, "USD"))).toThrow(CurrencyMismatchError);
    expect(() => isAtMost(m(350, -2, "EUR"), m(4, 0, "USD"))).toThrow(
      "Cannot compare 3.50 EUR and 4.00 USD: currencies differ",
    );
  });

  it("refuses a fractional amount instead of rounding it", () => {
    expect(() => compareMoney(m(3.5, 0), m(3, 0))).toThrow(/must be integers/);
  });
});

describe("addMoney", () => {
  it.each([
    { a: m(350, -2), b: m(1500000, -6), want: m(5000000, -6) },
    { a: m(1, 0), b: m(1, 0), want: m(2, 0) },
    { a: m(1, 2), b: m(1, 0), want: m(101, 0) },
  ])("$a.amount e$a.exponent + $b.amount e$b.exponent", ({ a, b, want }) => {
    expect(addMoney(a, b)).toEqual(want);
  });

  it("refuses different currencies", () => {
    expect(() => addMoney(m(1, 0, "EUR"), m(1, 0, "GBP"))).toThrow(
      "Cannot add 1.00 EUR and 1.00 GBP: currencies differ",
    );
  });
});

describe("money", () => {
  it.each([
    { currency: "EUR", decimal: "3.50", want: m(350, -2) },
    { currency: "USD", decimal: "10", want: m(10, 0, "USD") },
    { currency: "EUR", decimal: "0.000001", want: m(1, -6) },
    { currency: "EUR", decimal: "-2.5", want: m(-25, -1) },
    { currency: "EUR", decimal: " 4.00 ", want: m(400, -2) },
  ])("$currency $decimal", ({ currency, decimal, want }) => {
    expect(money(currency, decimal)).toEqual(want);
    expect(compareMoney(money(currency, decimal), want)).toBe(0);
  });

  it.each([
    { currency: "EUR", decimal: "3,50", error: /expected a decimal number/ },
    { currency: "EUR", decimal: "abc", error: /expected a decimal number/ },
    { currency: "EUR", decimal: "1e3", error: /expected a decimal number/ },
    { currency: "eur", decimal: "1", error: /three capital letters/ },
    { currency: "EUR", decimal: "123456789012345678", error: /too many digits/ },
  ])("rejects $currency $decimal", ({ currency, decimal, error }) => {
    expect(() => money(currency, decimal)).toThrow(error);
  });
});
