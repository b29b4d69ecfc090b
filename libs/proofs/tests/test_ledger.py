"""aos_proofs.ledger: a whole ledger export checks out, and any change to it is named."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aos_proofs import ledger, merkle

TENANT = "tnt_0123456789abcdef"


def _chain(count: int) -> list[dict[str, Any]]:
    entries, previous = [], ledger.GENESIS_PREV_HASH
    for seq in range(1, count + 1):
        entry: dict[str, Any] = {
            "tenant_id": TENANT,
            "seq": seq,
            "event_type": "ApiKeyCreated",
            "entity_type": "API_KEY",
            "entity_id": f"key_{seq:016x}",
            "actor_type": "HUMAN",
            "actor_id": "user-1",
            "action_reason": None,
            "before_state": None,
            "after_state": {"name": f"key {seq}", "nested": {"n": seq}},
            "created_at": f"2026-12-07T10:00:{seq:02d}+00:00",
            "prev_hash": previous,
        }
        entry["entry_hash"] = ledger.entry_hash(entry)
        previous = entry["entry_hash"]
        entries.append(entry)
    return entries


def _signed_head(
    entries: list[dict[str, Any]], key: Ed25519PrivateKey, size: int | None = None
) -> dict[str, Any]:
    size = len(entries) if size is None else size
    root = merkle.root_hash([merkle.leaf_hash(e["entry_hash"]) for e in entries[:size]])
    timestamp = "2026-12-07T11:00:00+00:00"
    message = ledger.tree_head_message(TENANT, size, root, timestamp)
    signature = base64.b64encode(key.sign(message)).decode()
    return {"tree_size": size, "root_hash": root, "timestamp": timestamp, "signature": signature}


def _public(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes_raw()).decode()


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_an_intact_export_passes_every_check(key: Ed25519PrivateKey) -> None:
    entries = _chain(7)
    findings = ledger.verify_export(entries, _signed_head(entries, key), TENANT, _public(key))
    assert [f.check for f in findings] == ["tree_head.signature", "chain", "tree_head.root"]
    assert all(f.ok for f in findings), findings


def test_a_head_over_a_prefix_of_the_export_verifies(key: Ed25519PrivateKey) -> None:
    entries = _chain(9)
    findings = ledger.verify_export(entries, _signed_head(entries, key, 5), TENANT, _public(key))
    assert all(f.ok for f in findings), findings


@pytest.mark.parametrize(
    ("field", "value", "failing"),
    [
        ("after_state", {"name": "changed"}, "chain"),
        ("actor_type", "SYSTEM", "chain"),
        ("created_at", "2026-12-07T10:00:59+00:00", "chain"),
        ("seq", 99, "chain"),
        ("tenant_id", "tnt_ffffffffffffffff", "chain"),
    ],
)
def test_a_changed_entry_field_is_reported_at_its_seq(
    key: Ed25519PrivateKey, field: str, value: Any, failing: str
) -> None:
    entries = _chain(6)
    head = _signed_head(entries, key)
    tampered = copy.deepcopy(entries)
    tampered[3][field] = value
    findings = ledger.verify_export(tampered, head, TENANT, _public(key))
    broken = [f for f in findings if not f.ok]
    assert broken[0].check == failing
    assert "4" in broken[0].detail


def test_an_entry_rehashed_after_a_change_breaks_the_chain_or_the_root(
    key: Ed25519PrivateKey,
) -> None:
    entries = _chain(6)
    head = _signed_head(entries, key)
    tampered = copy.deepcopy(entries)
    tampered[5]["after_state"] = {"name": "rewritten"}
    tampered[5]["entry_hash"] = ledger.entry_hash(tampered[5])
    findings = ledger.verify_export(tampered, head, TENANT, _public(key))
    assert [f.check for f in findings if not f.ok] == ["tree_head.root"]


def test_a_removed_entry_is_a_gap(key: Ed25519PrivateKey) -> None:
    entries = _chain(6)
    head = _signed_head(entries, key)
    findings = ledger.verify_export(entries[:2] + entries[3:], head, TENANT, _public(key))
    assert any(not f.ok and "seq 4" in f.detail for f in findings)


def test_a_head_signed_by_another_key_is_refused(key: Ed25519PrivateKey) -> None:
    entries = _chain(3)
    head = _signed_head(entries, Ed25519PrivateKey.generate())
    findings = ledger.verify_export(entries, head, TENANT, _public(key))
    assert [f.check for f in findings if not f.ok] == ["tree_head.signature"]


def test_a_changed_root_in_the_head_fails_signature_and_root(key: Ed25519PrivateKey) -> None:
    entries = _chain(3)
    head = _signed_head(entries, key)
    head["root_hash"] = "0" * 64
    findings = ledger.verify_export(entries, head, TENANT, _public(key))
    assert {f.check for f in findings if not f.ok} == {"tree_head.signature", "tree_head.root"}


def test_malformed_heads_and_keys_are_failures_not_exceptions(key: Ed25519PrivateKey) -> None:
    entries = _chain(2)
    assert not ledger.verify_tree_head_signature({}, TENANT, _public(key))
    assert not ledger.verify_tree_head_signature(_signed_head(entries, key), TENANT, "not base64!")
    findings = ledger.verify_export(entries, {"tree_size": "x"}, TENANT, _public(key))
    assert not any(f.ok for f in findings if f.check.startswith("tree_head"))
