import { describe, expect, it } from "vitest";
import { formatMoney, toDecimalString, toNumber } from "../../src/bird/money.js";
import { seededRandom } from "../../src/simulator/random.js";

describe("toNumber", () => {
  it("is the number the exact decimal rounds to, for any safe amount and exponent", () => {
    const next = seededRandom(20);
    const amounts = [0, 1, -1, 2_000_000, 1_999_999, 333_333, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
    for (let i = 0; i < 20_000; i++) {
      const digits = 1 + Math.floor(next() * 15);
      amounts.push(Math.floor(next() * 10 ** digits) * (next() < 0.2 ? -1 : 1));
    }
    for (const amount of amounts) {
      for (const exponent of [-22, -12, -6, -2, -1, 0, 1, 3, 22, Math.floor(next() * 45) - 22]) {
        const money = { amount, exponent, currencyCode: "EUR" };
        expect(toNumber(money), JSON.stringify(money)).toBe(Number(toDecimalString(money)));
      }
    }
  });

  it("reads exponents beyond 10^22 through the exact decimal, and refuses what is not money", () => {
    expect(toNumber({ amount: 5, exponent: -30, currencyCode: "EUR" })).toBe(5e-30);
    expect(toNumber({ amount: 7, exponent: 25, currencyCode: "EUR" })).toBe(7e25);
    expect(() => toNumber({ amount: 1.5, exponent: -2, currencyCode: "EUR" })).toThrow(RangeError);
    expect(() => toNumber({ amount: 15, exponent: 0.5, currencyCode: "EUR" })).toThrow(RangeError);
    expect(formatMoney({ amount: 2_000_000, exponent: -6, currencyCode: "EUR" })).toBe("2.00 EUR");
  });
});
