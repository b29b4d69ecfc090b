"""aos_proofs.trace_hash against an independent transcription of the schema-1.1 rule."""

from __future__ import annotations

import hashlib
import json

from aos_proofs.trace_hash import compute_root_hash, hash_data


def reference_root_hash(seed: int, frozen: str, tenant: str, steps: list[dict]) -> str:
    def h(s: str) -> str:
        return hashlib.sha256(s.encode()).hexdigest()

    chain = h(f"{seed}:{frozen}:{tenant}")
    for step in steps:
        outcome = {"success": "success", "skipped": "skipped"}.get(step["status"], "failure")
        payload = {
            k: step[k]
            for k in (
                "step_index",
                "skill_id",
                "input_hash",
                "output_hash",
                "rng_state_before",
                "idempotency_key",
                "replay_behavior",
            )
        }
        payload["outcome"] = outcome
        chain = h(chain + ":" + h(json.dumps(payload, sort_keys=True, separators=(",", ":"))))
    return chain


def make_steps() -> list[dict]:
    return [
        {
            "step_index": i,
            "skill_id": f"skill.{i}",
            "input_hash": hash_data({"i": i}),
            "output_hash": hash_data({"o": i}),
            "rng_state_before": str(i),
            "status": status,
            "idempotency_key": f"k{i}",
            "replay_behavior": "execute",
        }
        for i, status in enumerate(["success", "retry", "skipped", "failure"])
    ]


def test_root_hash_matches_independent_implementation() -> None:
    steps = make_steps()
    assert compute_root_hash(42, "2026-01-01T00:00:00Z", "tnt_a", steps) == reference_root_hash(
        42, "2026-01-01T00:00:00Z", "tnt_a", steps
    )


def test_root_hash_changes_with_any_hashed_field() -> None:
    base = compute_root_hash(42, "t", "tnt_a", make_steps())
    changed = make_steps()
    changed[1]["output_hash"] = "0" * 16
    assert compute_root_hash(42, "t", "tnt_a", changed) != base
    assert compute_root_hash(43, "t", "tnt_a", make_steps()) != base
