"""Local schema-1.1 trace hashing, so a caller knows the root hash before the server answers.

The rule (API.md, "root_hash (schema 1.1)"): canonical JSON is sorted keys with compact
separators and Python's json defaults (ASCII escapes); `input_hash`/`output_hash` are the first
16 hex of SHA-256 of it; each step hashes a fixed payload; a chain starts from
`"{seed}:{frozen_timestamp}:{tenant_id}"` and folds every step hash in step order. Durations,
step timestamps and metadata are deliberately outside the hash, so a replay that takes longer
still hashes the same. This module has no dependency on the server code on purpose: it is the
second, independent implementation the server's hash is checked against.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

SCHEMA_VERSION = "1.1"
DEFAULT_SEED = 42
_HASHED_OUTCOMES = frozenset({"success", "skipped"})


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def to_jsonable(value: Any) -> Any:
    """The JSON value the server will receive for `value` (non-JSON types, NaN and infinities
    become strings, since JSON cannot carry them).

    Hashes are computed over this form, never over the caller's Python objects, so the local hash
    and the server's hash of the same bytes cannot drift apart.
    """
    return json.loads(json.dumps(value, default=str), parse_constant=str)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_data(value: Any) -> str:
    """`input_hash` / `output_hash` of a JSON-compatible value."""
    return _sha256(canonical_json(value))[:16]


def hashed_outcome(status: str | None) -> str:
    """Step status as the hash sees it: success and skipped stay, everything else is failure."""
    return status if status in _HASHED_OUTCOMES else "failure"


def step_hash(step: Mapping[str, Any]) -> str:
    payload = {
        "step_index": step["step_index"],
        "skill_id": step.get("skill_id"),
        "input_hash": step.get("input_hash"),
        "output_hash": step.get("output_hash"),
        "rng_state_before": step.get("rng_state_before"),
        "outcome": hashed_outcome(step.get("status", "success")),
        "idempotency_key": step.get("idempotency_key"),
        "replay_behavior": step.get("replay_behavior") or "execute",
    }
    return _sha256(canonical_json(payload))


def root_hash(
    *,
    seed: int,
    frozen_timestamp: str | None,
    tenant_id: str,
    steps: Iterable[Mapping[str, Any]],
) -> str:
    chain = _sha256(f"{seed}:{frozen_timestamp}:{tenant_id}")
    for step in sorted(steps, key=lambda s: int(s["step_index"])):
        chain = _sha256(f"{chain}:{step_hash(step)}")
    return chain


def trace_root_hash(trace: Mapping[str, Any]) -> str:
    """Root hash of a whole trace document (seed defaults to 42, as the server assumes)."""
    seed = trace.get("seed")
    return root_hash(
        seed=DEFAULT_SEED if seed is None else int(seed),
        frozen_timestamp=trace.get("frozen_timestamp"),
        tenant_id=str(trace["tenant_id"]),
        steps=trace.get("steps") or [],
    )
