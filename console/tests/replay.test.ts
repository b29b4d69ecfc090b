import { describe, expect, it } from "vitest";
import type { Mismatch, Step } from "../src/api/types";
import { mismatchSource, replaySentence, stepOutcome } from "../src/lib/replay";

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
