"""Canonical JSON and the trace root hash (schema 1.1, docs/API.md "root_hash").

Two canonical forms exist on purpose: traces use the legacy form here (sorted keys, compact
separators, Python's json defaults) so that hashes computed by existing SDKs still match; the
audit ledger uses RFC 8785 (`aos_proofs.ledger`), defined independently of any JSON library.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

TRACE_SCHEMA_VERSION = "1.1"


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def sha256_hex(data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def hash_data(data: Any) -> str:
    """`input_hash` / `output_hash`: the first 16 hex of SHA-256 of the canonical JSON."""
    return sha256_hex(canonical_json(data))[:16]


def step_outcome(status: str) -> str:
    """Map a step status onto the hashed outcome: retry (and anything not success/skipped) is failure."""
    if status in ("success", "skipped"):
        return status
    return "failure"


def step_hash(step: Mapping[str, Any]) -> str:
    payload = {
        "step_index": step["step_index"],
        "skill_id": step.get("skill_id"),
        "input_hash": step.get("input_hash"),
        "output_hash": step.get("output_hash"),
        "rng_state_before": step.get("rng_state_before"),
        "outcome": step_outcome(str(step.get("status", "success"))),
        "idempotency_key": step.get("idempotency_key"),
        "replay_behavior": step.get("replay_behavior", "execute"),
    }
    return sha256_hex(canonical_json(payload))


def compute_root_hash(
    seed: int, frozen_timestamp: str | None, tenant_id: str, steps: Iterable[Mapping[str, Any]]
) -> str:
    """Schema-1.1 root hash: a chain over step hashes starting from seed, frozen time and tenant."""
    chain = sha256_hex(f"{seed}:{frozen_timestamp}:{tenant_id}")
    for step in sorted(steps, key=lambda s: int(s["step_index"])):
        chain = sha256_hex(f"{chain}:{step_hash(step)}")
    return chain
