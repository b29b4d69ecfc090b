"""Build genuine evidence bundles for tests: a signed ledger of entries with real proofs."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from aos_guard_logs.domain.bundle import BundleInputs, build_bundle
from aos_proofs import ledger, merkle
from aos_proofs.trace_hash import compute_root_hash, hash_data

TENANT = "tnt_00000000000000aa"


def signed_ledger(tenant_id: str, entity_id: str, size: int = 5) -> tuple[dict[str, Any], str]:
    """An audit.json document (every second entry about `entity_id`) and the public key."""
    key = Ed25519PrivateKey.generate()
    public_key = base64.b64encode(
        key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    ).decode()
    entries: list[dict[str, Any]] = []
    prev = ledger.GENESIS_PREV_HASH
    for seq in range(1, size + 1):
        entry = {
            "id": f"al_{seq:016x}",
            "seq": seq,
            "tenant_id": tenant_id,
            "event_type": "IncidentAcknowledged",
            "entity_type": "INCIDENT",
            "entity_id": entity_id if seq % 2 else "other",
            "actor_type": "HUMAN",
            "actor_id": "user_1",
            "action_reason": f"step {seq}",
            "before_state": None,
            "after_state": {"n": seq},
            "created_at": f"2026-01-01T00:00:0{seq}+00:00",
            "prev_hash": prev,
        }
        entry["entry_hash"] = ledger.entry_hash(entry)
        prev = entry["entry_hash"]
        entries.append(entry)
    leaves = [merkle.leaf_hash(entry["entry_hash"]) for entry in entries]
    nodes: dict[tuple[int, int], bytes] = {}
    frontier = merkle.Frontier()
    for leaf in leaves:
        for level, index, value in frontier.append(bytes.fromhex(leaf)):
            nodes[(level, index)] = value
    root = frontier.root().hex()
    timestamp = "2026-01-01T00:01:00+00:00"
    head = {
        "tree_size": size,
        "root_hash": root,
        "timestamp": timestamp,
        "signature": base64.b64encode(
            key.sign(ledger.tree_head_message(tenant_id, size, root, timestamp))
        ).decode(),
        "key_id": "k1",
        "public_key": public_key,
    }
    proved = [
        {
            **entry,
            "proof": {
                "leaf_index": entry["seq"] - 1,
                "tree_size": size,
                "leaf_hash": leaves[entry["seq"] - 1],
                "audit_path": merkle.inclusion_proof(
                    entry["seq"] - 1, size, lambda level, index: nodes[(level, index)]
                ),
            },
        }
        for entry in entries
        if entry["entity_id"] == entity_id
    ]
    return {"tenant_id": tenant_id, "tree_head": head, "entries": proved}, public_key


def trace_document(tenant_id: str, run_id: str) -> dict[str, Any]:
    steps = [
        {
            "step_index": index,
            "skill_id": f"skill.{index}",
            "skill_name": f"Skill {index}",
            "status": "success" if index != 1 else "failure",
            "input_hash": hash_data({"i": index}),
            "output_hash": hash_data({"o": index}),
            "rng_state_before": None,
            "idempotency_key": None,
            "replay_behavior": "execute",
            "duration_ms": 10 * index,
        }
        for index in range(3)
    ]
    frozen = "2026-01-01T00:00:00+00:00"
    return {
        "trace_id": "trace_" + run_id.removeprefix("run_"),
        "run_id": run_id,
        "tenant_id": tenant_id,
        "agent_id": "agent-1",
        "seed": 42,
        "frozen_timestamp": frozen,
        "steps": steps,
        "root_hash": compute_root_hash(42, frozen, tenant_id, steps),
        "status": "completed",
    }


def genuine_bundle(run_id: str = "run_00000000000000bb") -> tuple[bytes, str]:
    audit, public_key = signed_ledger(TENANT, run_id)
    inputs = BundleInputs(
        tenant_id=TENANT,
        log_id="log_" + run_id.removeprefix("run_"),
        trace=trace_document(TENANT, run_id),
        integrity={"state": "SEALED", "grade": "PASS"},
        audit=audit,
        costs={
            "run_id": run_id,
            "records": [{"cost_cents": "1.5"}, {"cost_cents": "2"}],
            "total_cost_cents": "3.5",
        },
        generated_at="2026-01-02T00:00:00+00:00",
    )
    return build_bundle(inputs), public_key
