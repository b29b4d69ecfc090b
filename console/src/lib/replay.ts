// Replay outcomes in words: where a mismatch came from, a step's outcome as its mismatches record
// it, the server's answer to a replayed step as one sentence, and a step's last recorded replay.
import type { Mismatch, ReplayCheck, ReplayResult, Step } from "../api/types";
import { formatTime } from "./format";

/** Where a mismatch came from: a server-side replay check, a hash the server recomputed, or a report. */
export function mismatchSource(mismatch: Mismatch): string {
  const details = mismatch.details;
  const source = details && typeof details === "object" ? (details as { source?: unknown }).source : undefined;
  if (source === "replay_check") return "replay check";
  if (mismatch.reason === "hash_mismatch") return "hash check";
  return "reported";
}

/** A step's replay outcome from the trace's mismatches (open ones first: they need a person). */
export function stepOutcome(step: Step, mismatches: Mismatch[] | undefined): string {
  if (mismatches === undefined) return "…";
  const mine = mismatches.filter((m) => m.step_index === step.step_index);
  const open = mine.filter((m) => !m.resolved);
  if (open.length) return `mismatch open (${open.map(mismatchSource).join(", ")})`;
  if (mine.length) return "mismatch resolved";
  return step.replay_behavior === "check" ? "no mismatch recorded" : "no mismatch";
}

/** The replay answer as one sentence, by the step's behaviour. */
export function replaySentence(result: ReplayResult): string {
  const step = `Step ${result.step_index}`;
  if (result.replay_behavior === "check") {
    return result.match
      ? `${step} matches its recorded output (hash ${result.expected_hash}).`
      : `${step} differs from its recorded output: expected ${result.expected_hash}, got ${result.actual_hash}. A mismatch was recorded.`;
  }
  const key = result.idempotency_key;
  if (result.replay_behavior === "skip") {
    return result.cached
      ? `${step} is skipped: the output cached for key ${key} is returned (hash ${result.output_hash}).`
      : `${step} is skipped, and no output is cached for its idempotency key.`;
  }
  if (!key) return `${step} executed (hash ${result.output_hash}); it has no idempotency key, so nothing was kept for reuse.`;
  return result.recorded
    ? `${step} executed; its output (hash ${result.output_hash}) is now the one kept for key ${key}.`
    : `${step} executed; key ${key} already had an output, and the first one stands.`;
}

/** What a recorded replay found: a check matched or differed; skip and execute compare nothing. */
export function replayVerdict(check: ReplayCheck): { label: string; tone: "ok" | "bad" | "none" } {
  if (check.replay_behavior === "check") {
    if (check.match === true) return { label: "matched", tone: "ok" };
    if (check.match === false) return { label: "differed", tone: "bad" };
  }
  if (check.replay_behavior === "skip") return { label: "skipped (cached output)", tone: "none" };
  return { label: "executed", tone: "none" };
}

/** When and by whom a replay was recorded: "2026-01-01 00:00:00 UTC by key_1" (no "by" when unknown). */
export function replayWhen(check: ReplayCheck): string {
  const when = formatTime(check.checked_at);
  return check.checked_by ? `${when} by ${check.checked_by}` : when;
}

/** Each step's newest replay, by step index (the list may hold several per step, in any order). */
export function latestReplays(checks: ReplayCheck[] | undefined): Map<number, ReplayCheck> {
  const latest = new Map<number, ReplayCheck>();
  for (const check of checks ?? []) {
    const known = latest.get(check.step_index);
    if (!known || Date.parse(check.checked_at) > Date.parse(known.checked_at)) latest.set(check.step_index, check);
  }
  return latest;
}
