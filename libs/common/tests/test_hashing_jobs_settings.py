"""Trace root hash (against an independent implementation), job runner and settings guards."""

from __future__ import annotations

import hashlib
import json
import random

import pytest

from aos_common.jobs import JobRunner, RetryPolicy, RetryStrategy
from aos_common.settings import ServiceSettings
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


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (RetryStrategy.FIXED, [1, 1, 1, 1]),
        (RetryStrategy.LINEAR, [1, 2, 3, 4]),
        (RetryStrategy.EXPONENTIAL, [1, 2, 4, 8]),
        (RetryStrategy.FIBONACCI, [1, 1, 2, 3]),
    ],
)
def test_retry_delays_follow_strategy(strategy: RetryStrategy, expected: list[int]) -> None:
    policy = RetryPolicy(strategy=strategy, base_delay=1, jitter=0)
    assert [policy.delay(n) for n in range(4)] == expected


def test_jitter_stays_within_bounds() -> None:
    policy = RetryPolicy(strategy=RetryStrategy.FIXED, base_delay=10, jitter=0.1)
    delays = [policy.delay(0, rng=random.Random(n)) for n in range(100)]
    assert all(9 <= d <= 11 for d in delays) and len(set(delays)) > 1


async def test_job_retries_retryable_errors_and_chains_events() -> None:
    calls = []

    async def flaky(context) -> str:
        calls.append(1)
        context.set_total(10)
        context.advance(5)
        if len(calls) < 3:
            raise ConnectionError("transient")
        return "done"

    async def no_sleep(_: float) -> None:
        return None

    record = await JobRunner(sleep=no_sleep).run("flaky", flaky, RetryPolicy(jitter=0))
    assert record.state == "succeeded" and record.attempts == 3 and record.result == "done"
    assert record.chain_intact()
    record.events[1] = record.events[1].__class__(**{**record.events[1].__dict__, "kind": "x"})
    assert not record.chain_intact()


async def test_job_does_not_retry_filtered_errors() -> None:
    async def broken(context) -> None:
        raise ValueError("permanent")

    policy = RetryPolicy(retryable=lambda error: isinstance(error, ConnectionError))
    record = await JobRunner().run("broken", broken, policy)
    assert record.state == "failed" and record.attempts == 1


def test_production_refuses_default_secrets() -> None:
    with pytest.raises(ValueError, match="AOS_INTERNAL_SECRET"):
        ServiceSettings(environment="production")


def test_operator_key_must_have_prefix_and_length() -> None:
    with pytest.raises(ValueError, match="aos_op_"):
        ServiceSettings(operator_key="short")
