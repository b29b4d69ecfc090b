import { describe, expect, it } from "vitest";
import { DOLLARS, dollarsToCents, formatCents, percentUsed, roundCents, sumCents } from "../src/lib/money";

describe("money from decimal strings", () => {
  it("formats cents as dollars with grouping", () => {
    expect(formatCents("123456.7")).toBe("$1,234.57");
    expect(formatCents("0")).toBe("$0.00");
    expect(formatCents("-250")).toBe("-$2.50");
  });

  it("rounds half up on the exact digits", () => {
    expect(roundCents("0.5")).toBe(1n);
    expect(roundCents("0.4999999999999999999")).toBe(0n);
    expect(formatCents("1.005")).toBe("$0.01");
  });

  it("never shows float error", () => {
    expect(sumCents(["0.1", "0.2"])).toBe("0.3");
    expect(formatCents(sumCents(["10", "20"]))).toBe("$0.30");
    expect(formatCents("99999999999999999999")).toBe("$999,999,999,999,999,999.99");
  });

  it("marks tiny positive amounts instead of showing zero", () => {
    expect(formatCents("0.000001")).toBe("<$0.01");
  });

  it("shows a dash for a missing amount and refuses non-numbers", () => {
    expect(formatCents(null)).toBe("—");
    expect(() => formatCents("1e5")).toThrow();
  });

  it("computes percent used exactly to one decimal", () => {
    expect(percentUsed("940", "1000")).toBe(94);
    expect(percentUsed("1", "3")).toBe(33.3);
    expect(percentUsed("5", null)).toBeNull();
    expect(percentUsed("5", "0")).toBeNull();
  });

  it("turns typed dollars into cents on the digits", () => {
    expect(dollarsToCents("12.5")).toBe("1250");
    expect(dollarsToCents(" 0.07 ")).toBe("7");
    expect(dollarsToCents("")).toBeNull();
    expect(DOLLARS.test("12.505")).toBe(false);
  });
});
