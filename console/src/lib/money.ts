// Money arrives as decimal strings of US cents ("12345.678901"): exact, never floats. Formatting
// works on the digits (BigInt), so "0.1" + "0.2" style float error never reaches the screen.

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** A decimal string of cents as an exact scaled integer: value × 10^scale. */
function parse(cents: string): { negative: boolean; digits: bigint; scale: number } {
  const match = DECIMAL.exec(cents.trim());
  if (!match) throw new Error(`not a decimal amount: ${JSON.stringify(cents)}`);
  const fraction = match[3] ?? "";
  return {
    negative: match[1] === "-",
    digits: BigInt(match[2] + fraction),
    scale: fraction.length,
  };
}

/** Cents (decimal string) rounded half-up to whole cents, as a BigInt. */
export function roundCents(cents: string): bigint {
  const { negative, digits, scale } = parse(cents);
  const divisor = 10n ** BigInt(scale);
  let whole = digits / divisor;
  if ((digits % divisor) * 2n >= divisor && scale > 0) whole += 1n;
  return negative ? -whole : whole;
}

function group(integer: string): string {
  return integer.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** "$1,234.57" from "123456.7"; amounts above zero but under half a cent show as "<$0.01". */
export function formatCents(cents: string | null | undefined): string {
  if (cents === null || cents === undefined || cents === "") return "—";
  const rounded = roundCents(cents);
  if (rounded === 0n && parse(cents).digits > 0n && !parse(cents).negative) return "<$0.01";
  const negative = rounded < 0n;
  const absolute = negative ? -rounded : rounded;
  const dollars = absolute / 100n;
  const rest = (absolute % 100n).toString().padStart(2, "0");
  return `${negative ? "-" : ""}$${group(dollars.toString())}.${rest}`;
}

/** Sum of decimal strings, exactly (as a decimal string of cents). */
export function sumCents(values: string[]): string {
  let scale = 0;
  const parsed = values.map((value) => {
    const p = parse(value);
    scale = Math.max(scale, p.scale);
    return p;
  });
  let total = 0n;
  for (const p of parsed) {
    const scaled = p.digits * 10n ** BigInt(scale - p.scale);
    total += p.negative ? -scaled : scaled;
  }
  const negative = total < 0n;
  const text = (negative ? -total : total).toString().padStart(scale + 1, "0");
  const integer = scale ? text.slice(0, -scale) : text;
  const fraction = scale ? "." + text.slice(-scale) : "";
  return `${negative ? "-" : ""}${integer}${fraction}`;
}

/** Percent used of a limit, both decimal strings of cents, to one decimal place (exact). */
export function percentUsed(used: string, limit: string | null | undefined): number | null {
  if (!limit) return null;
  const u = parse(used);
  const l = parse(limit);
  if (l.digits === 0n) return null;
  const scale = Math.max(u.scale, l.scale);
  const un = u.digits * 10n ** BigInt(scale - u.scale);
  const ln = l.digits * 10n ** BigInt(scale - l.scale);
  const tenths = (un * 1000n + ln / 2n) / ln;
  return Number(tenths) / 10;
}

/** A chart needs numbers; this is the only place a money string becomes one (dollars). */
export function centsToChartDollars(cents: string): number {
  return Number(roundCents(cents)) / 100;
}

/** An amount a person types in dollars: whole, or with one or two decimals. */
export const DOLLARS = /^\d+(\.\d{1,2})?$/;

/** "12.50" dollars → "1250" cents, on the digits (no float). */
export function dollarsToCents(dollars: string): string | null {
  const value = dollars.trim();
  if (!value) return null;
  const [whole, fraction = ""] = value.split(".");
  return (BigInt(whole) * 100n + BigInt((fraction + "00").slice(0, 2))).toString();
}
