import { describe, expect, it } from "vitest";
import type { Mismatch, ReplayCheck, Step } from "../src/api/types";
import {
  latestReplays,
  mismatchSource,
  replaySentence,
  replayVerdict,
  replayWhen,
  stepOutcome,
} from "../src/lib/replay";

function mismatch(overrides: Partial<Mismatch>): Mismatch {
  return {
    mismatch_id: "m1",
    step_index: 1,
    reason: "output_mismatch",
    expected_hash: "a",
    actual_hash: "b",
    details: { source: "replay_check" },
    resolved: false,
    created_at: "2026-01-01T00:00:00Z",
    ...overrides,
  };
}

const checkStep = { step_index: 1, replay_behavior: "check" } as Step;

describe("replay outcomes", () => {
  it("names where a mismatch came from", () => {
    expect(mismatchSource(mismatch({}))).toBe("replay check");
    expect(mismatchSource(mismatch({ details: {}, reason: "hash_mismatch" }))).toBe("hash check");
    expect(mismatchSource(mismatch({ details: null, reason: "Tool result changed" }))).toBe("reported");
  });

  it("shows a step's open mismatch before its resolved ones", () => {
    const both = [mismatch({ resolved: true }), mismatch({ mismatch_id: "m2" })];
    expect(stepOutcome(checkStep, both)).toBe("mismatch open (replay check)");
    expect(stepOutcome(checkStep, [mismatch({ resolved: true })])).toBe("mismatch resolved");
    expect(stepOutcome(checkStep, [mismatch({ step_index: 2 })])).toBe("no mismatch recorded");
  });

  it("says a check differed and that a mismatch was recorded", () => {
    const sentence = replaySentence({
      trace_id: "t",
      step_index: 1,
      replay_behavior: "check",
      match: false,
      expected_hash: "aaaa",
      actual_hash: "bbbb",
      mismatch_id: "m",
    });
    expect(sentence).toBe("Step 1 differs from its recorded output: expected aaaa, got bbbb. A mismatch was recorded.");
  });

  it("says an execute with a taken key keeps the first output", () => {
    const sentence = replaySentence({
      trace_id: "t",
      step_index: 0,
      replay_behavior: "execute",
      executed: true,
      recorded: false,
      idempotency_key: "k1",
      output_hash: "cccc",
    });
    expect(sentence).toBe("Step 0 executed; key k1 already had an output, and the first one stands.");
  });
});

function check(overrides: Partial<ReplayCheck>): ReplayCheck {
  return {
    check_id: "c1",
    trace_id: "t",
    step_index: 1,
    replay_behavior: "check",
    match: true,
    expected_hash: "a",
    actual_hash: "a",
    checked_by: "key_1",
    checked_at: "2026-01-01T10:00:00Z",
    ...overrides,
  };
}

describe("recorded replays", () => {
  it("says a check matched or differed, and that skip and execute compare nothing", () => {
    expect(replayVerdict(check({}))).toEqual({ label: "matched", tone: "ok" });
    expect(replayVerdict(check({ match: false }))).toEqual({ label: "differed", tone: "bad" });
    expect(replayVerdict(check({ replay_behavior: "skip", match: null })).label).toBe("skipped (cached output)");
    expect(replayVerdict(check({ replay_behavior: "execute", match: null })).label).toBe("executed");
  });

  it("says when and by whom, leaving out who when it was not stored", () => {
    expect(replayWhen(check({}))).toBe("2026-01-01 10:00:00 UTC by key_1");
    expect(replayWhen(check({ checked_by: null }))).toBe("2026-01-01 10:00:00 UTC");
  });

  it("keeps each step's newest replay", () => {
    const older = check({ check_id: "old", checked_at: "2026-01-01T09:00:00Z", match: false });
    const newer = check({ check_id: "new" });
    const other = check({ check_id: "s0", step_index: 0 });
    const latest = latestReplays([older, newer, other]);
    expect(latest.get(1)?.check_id).toBe("new");
    expect(latest.get(0)?.check_id).toBe("s0");
    expect(latestReplays(undefined).size).toBe(0);
  });
});
