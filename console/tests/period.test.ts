import { describe, expect, it } from "vitest";
import { bucketLabel, buckets, periodWindow, stackRows } from "../src/lib/period";

const now = new Date("2026-03-10T15:42:10Z");

describe("period math", () => {
  it("starts a window at the hour floor of now minus its length", () => {
    expect(periodWindow("24h", now).start.toISOString()).toBe("2026-03-09T15:00:00.000Z");
    expect(periodWindow("7d", now).start.toISOString()).toBe("2026-03-03T15:00:00.000Z");
    expect(periodWindow("30d", now).grain).toBe("day");
  });

  it("has 25 hourly buckets for 24h and 8 or 31 daily ones", () => {
    expect(buckets(periodWindow("24h", now))).toHaveLength(25);
    const week = buckets(periodWindow("7d", now));
    expect(week[0]).toBe("2026-03-03T00:00:00.000Z");
    expect(week).toHaveLength(8);
    expect(buckets(periodWindow("30d", now))).toHaveLength(31);
  });

  it("crosses a month end without losing a day", () => {
    const days = buckets(periodWindow("7d", new Date("2026-03-02T01:00:00Z")));
    expect(days.slice(0, 3)).toEqual([
      "2026-02-23T00:00:00.000Z",
      "2026-02-24T00:00:00.000Z",
      "2026-02-25T00:00:00.000Z",
    ]);
  });

  it("stacks points into zero-filled rows per bucket", () => {
    const axis = ["2026-03-09T00:00:00.000Z", "2026-03-10T00:00:00.000Z"];
    const { rows, keys } = stackRows(
      [
        { bucket: "2026-03-10T00:00:00+00:00", key: "gpt", cost_cents: "150" },
        { bucket: "2026-03-09T00:00:00Z", key: "", cost_cents: "20" },
      ],
      axis,
      (cents) => Number(cents) / 100,
    );
    expect(keys).toEqual(["(none)", "gpt"]);
    expect(rows).toEqual([
      { bucket: axis[0], "(none)": 0.2, gpt: 0 },
      { bucket: axis[1], "(none)": 0, gpt: 1.5 },
    ]);
  });

  it("labels buckets in UTC", () => {
    expect(bucketLabel("2026-03-10T05:00:00.000Z", "hour")).toBe("05:00");
    expect(bucketLabel("2026-03-10T00:00:00.000Z", "day")).toBe("3/10");
  });
});
