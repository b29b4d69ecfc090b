"""The audit ledger's formats: the entry hash, the hash chain, and Ed25519-signed tree heads.

An entry's `entry_hash` is SHA-256 of the RFC 8785 JSON of its hashed fields, `created_at` as the
ISO string the ledger returned; the first entry's `prev_hash` is 64 zeros and every later one
names its predecessor's hash. A tree head signs the RFC 8785 JSON of {tenant_id, tree_size,
root_hash, timestamp}. Verifiers never raise on malformed input: they return False or a finding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from aos_proofs import merkle

GENESIS_PREV_HASH = "0" * 64
ENTRY_HASH_FIELDS = (
    "tenant_id",
    "seq",
    "event_type",
    "entity_type",
    "entity_id",
    "actor_type",
    "actor_id",
    "action_reason",
    "before_state",
    "after_state",
    "created_at",
    "prev_hash",
)
TREE_HEAD_FIELDS = ("tenant_id", "tree_size", "root_hash", "timestamp")


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 hex of the RFC 8785 JSON of the hashed fields (`created_at` as the ISO string)."""
    payload = {field: entry.get(field) for field in ENTRY_HASH_FIELDS}
    return hashlib.sha256(rfc8785.dumps(payload)).hexdigest()


def tree_head_message(tenant_id: str, tree_size: int, root_hash_hex: str, timestamp: str) -> bytes:
    """The exact bytes an Ed25519 tree-head signature covers: RFC 8785 JSON of the four fields."""
    return rfc8785.dumps(
        {
            "tenant_id": tenant_id,
            "tree_size": tree_size,
            "root_hash": root_hash_hex,
            "timestamp": timestamp,
        }
    )


def verify_tree_head_signature(
    head: Mapping[str, Any], tenant_id: str, public_key_b64: str
) -> bool:
    """Check a tree head's `signature` (base64) with the ledger's raw Ed25519 public key (base64)."""
    try:
        public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        signature = base64.b64decode(str(head["signature"]))
        message = tree_head_message(
            tenant_id, int(head["tree_size"]), str(head["root_hash"]), str(head["timestamp"])
        )
        public_key.verify(signature, message)
    except (InvalidSignature, KeyError, ValueError, TypeError, binascii.Error):
        return False
    return True


@dataclass(frozen=True)
class LedgerFinding:
    """One check of a ledger export: what was checked, whether it held, and what was found."""

    check: str
    ok: bool
    detail: str


def verify_export(
    entries: Sequence[Mapping[str, Any]],
    head: Mapping[str, Any],
    tenant_id: str,
    public_key_b64: str,
) -> list[LedgerFinding]:
    """Check a whole tenant ledger (entries in `seq` order from 1) against a signed tree head.

    Every entry hash must recompute from its fields, every entry must chain to the one before,
    `seq` must run 1, 2, ... with no gap, the Merkle root over the first `tree_size` entries must
    equal the head's root, and the head's signature must verify with the given key.
    """
    findings = [_signature_finding(head, tenant_id, public_key_b64)]
    previous_hash = GENESIS_PREV_HASH
    for position, entry in enumerate(entries, start=1):
        finding = _entry_finding(entry, position, previous_hash, tenant_id)
        if finding is not None:
            findings.append(finding)
            break
        previous_hash = str(entry.get("entry_hash"))
    else:
        findings.append(LedgerFinding("chain", True, f"{len(entries)} entries recompute and chain"))
    findings.append(_root_finding(entries, head))
    return findings


def _signature_finding(
    head: Mapping[str, Any], tenant_id: str, public_key_b64: str
) -> LedgerFinding:
    signed = verify_tree_head_signature(head, tenant_id, public_key_b64)
    detail = (
        f"tree head of size {head.get('tree_size')} is signed by the given key"
        if signed
        else "the tree head's Ed25519 signature does not verify with the given key"
    )
    return LedgerFinding("tree_head.signature", signed, detail)


def _entry_finding(
    entry: Mapping[str, Any], position: int, previous_hash: str, tenant_id: str
) -> LedgerFinding | None:
    """The first thing wrong with one entry, or None when it holds."""
    seq = entry.get("seq")
    if seq != position:
        return LedgerFinding("chain", False, f"entry {position} has seq {seq} (a gap or reorder)")
    if entry.get("tenant_id") != tenant_id:
        return LedgerFinding(
            "chain", False, f"seq {seq} belongs to tenant {entry.get('tenant_id')}"
        )
    recomputed = entry_hash(entry)
    if recomputed != entry.get("entry_hash"):
        return LedgerFinding(
            "chain",
            False,
            f"seq {seq}: fields hash to {recomputed}, entry says {entry.get('entry_hash')}",
        )
    if entry.get("prev_hash") != previous_hash:
        return LedgerFinding("chain", False, f"seq {seq} does not chain to the entry before it")
    return None


def _root_finding(entries: Sequence[Mapping[str, Any]], head: Mapping[str, Any]) -> LedgerFinding:
    try:
        size = int(head["tree_size"])
    except (KeyError, TypeError, ValueError):
        return LedgerFinding("tree_head.root", False, "the tree head has no tree_size")
    if size > len(entries):
        return LedgerFinding(
            "tree_head.root",
            False,
            f"the head covers {size} entries, the export has {len(entries)}",
        )
    leaves = [merkle.leaf_hash(entry_hash(entry)) for entry in entries[:size]]
    root = merkle.root_hash(leaves)
    matches = root == head.get("root_hash")
    detail = (
        f"the Merkle root of the first {size} entries is the signed root"
        if matches
        else f"the first {size} entries give root {root}, the head says {head.get('root_hash')}"
    )
    return LedgerFinding("tree_head.root", matches, detail)
