// The report periods of the cost API (24h, 7d, 30d) and the buckets a chart of one shows. They
// mirror the server: a window ends now and starts at the UTC hour floor of now − length; 24h is
// charted per hour, 7d and 30d per UTC day.

export type Period = "24h" | "7d" | "30d";
export const PERIODS: readonly Period[] = ["24h", "7d", "30d"];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const LENGTH: Record<Period, number> = { "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY };

export interface Window {
  start: Date;
  end: Date;
  grain: "hour" | "day";
}

export function periodWindow(period: Period, now: Date): Window {
  const start = Math.floor((now.getTime() - LENGTH[period]) / HOUR) * HOUR;
  return { start: new Date(start), end: now, grain: period === "24h" ? "hour" : "day" };
}

/** Every bucket start (ISO, UTC) of the window: the chart's x axis, gaps included. */
export function buckets(window: Window): string[] {
  const step = window.grain === "hour" ? HOUR : DAY;
  let cursor =
    window.grain === "hour"
      ? window.start.getTime()
      : Math.floor(window.start.getTime() / DAY) * DAY;
  const out: string[] = [];
  while (cursor <= window.end.getTime()) {
    out.push(new Date(cursor).toISOString());
    cursor += step;
  }
  return out;
}

export interface SeriesPoint {
  bucket: string;
  key: string;
  cost_cents: string;
}

/** Rows for a stacked chart: one per bucket, one numeric column per key, zero where absent. */
export function stackRows(
  points: SeriesPoint[],
  axis: string[],
  toNumber: (cents: string) => number,
): { rows: Record<string, number | string>[]; keys: string[] } {
  const keys = [...new Set(points.map((p) => p.key || "(none)"))].sort();
  const byBucket = new Map<string, Record<string, number | string>>();
  for (const bucket of axis) {
    const row: Record<string, number | string> = { bucket };
    for (const key of keys) row[key] = 0;
    byBucket.set(bucket, row);
  }
  for (const point of points) {
    const bucket = new Date(point.bucket).toISOString();
    const row = byBucket.get(bucket);
    if (row) row[point.key || "(none)"] = toNumber(point.cost_cents);
  }
  return { rows: [...byBucket.values()], keys };
}

export function bucketLabel(iso: string, grain: "hour" | "day"): string {
  const date = new Date(iso);
  return grain === "hour"
    ? `${String(date.getUTCHours()).padStart(2, "0")}:00`
    : `${date.getUTCMonth() + 1}/${date.getUTCDate()}`;
}
