"""aos_proofs.merkle against an independent, literal transcription of RFC 6962 §2.1 (recursive
MTH, PATH and PROOF over the raw leaf list), the RFC's empty-tree hash, and mutation tests."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aos_proofs import ledger, merkle

SIZES = [*range(1, 9), 13, 31, 32, 33, 100]


# --- the reference: RFC 6962 §2.1, written as the RFC writes it ---------------------------------


def ref_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def ref_mth(entries: list[bytes]) -> bytes:
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return ref_leaf(entries[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:])).digest()


def ref_path(m: int, entries: list[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, entries[:k]), ref_mth(entries[k:])]
    return [*ref_path(m - k, entries[k:]), ref_mth(entries[:k])]


def ref_subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [ref_mth(entries)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, entries[:k], b), ref_mth(entries[k:])]
    return [*ref_subproof(m - k, entries[k:], False), ref_mth(entries[:k])]


def ref_proof(m: int, entries: list[bytes]) -> list[bytes]:
    return ref_subproof(m, entries, True)


def ref_sides(m: int, n: int) -> list[str]:
    """Which side each PATH(m, D[n]) element sits on, leaf level first (the proof's shape)."""
    if n <= 1 or not 0 <= m < n:
        return ["invalid"] if not 0 <= m < n else []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_sides(m, k), "right"]
    return [*ref_sides(m - k, n - k), "left"]


def ref_proof_sides(m: int, n: int, b: bool = True) -> list[str]:
    """The shape of PROOF(m, D[n]): the side of each element, deepest first."""
    if not 0 < m <= n:
        return ["invalid"]
    if m == n:
        return [] if b else ["self"]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_proof_sides(m, k, b), "right"]
    return [*ref_proof_sides(m - k, n - k, False), "left"]


# --- fixtures -------------------------------------------------------------------------------------


def entry_hashes(n: int) -> list[bytes]:
    """Leaf data: 32-byte entry hashes, as the ledger feeds them."""
    return [hashlib.sha256(f"entry {i}".encode()).digest() for i in range(n)]


def stored_nodes(entries: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every perfect subtree (level, index), computed by the reference MTH, as the ledger stores."""
    nodes = {}
    level = 0
    while (1 << level) <= len(entries):
        width = 1 << level
        for index in range(len(entries) // width):
            nodes[(level, index)] = ref_mth(entries[index * width : (index + 1) * width])
        level += 1
    return nodes


def lookup_for(entries: list[bytes]) -> Callable[[int, int], bytes]:
    nodes = stored_nodes(entries)
    return lambda level, index: nodes[(level, index)]


def restricted(
    lookup: Callable[[int, int], bytes], allowed: set[tuple[int, int]]
) -> Callable[[int, int], bytes]:
    """A lookup that fails on any node the generator did not announce it needs."""

    def guarded(level: int, index: int) -> bytes:
        assert (level, index) in allowed
        return lookup(level, index)

    return guarded


def flip(hex_hash: str, bit: int) -> str:
    raw = bytearray(bytes.fromhex(hex_hash))
    raw[bit // 8] ^= 1 << (bit % 8)
    return raw.hex()


# --- hashing --------------------------------------------------------------------------------------


def test_empty_tree_hash_is_sha256_of_nothing() -> None:
    assert merkle.EMPTY_ROOT_HEX == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.root_hash([]) == merkle.EMPTY_ROOT_HEX
    assert merkle.tree_root(0, lambda level, index: b"") == merkle.EMPTY_ROOT_HEX


def test_leaf_hash_prefixes_zero_byte_to_entry_hash_bytes() -> None:
    data = hashlib.sha256(b"x").digest()
    assert merkle.leaf_hash(data.hex()) == ref_leaf(data).hex()


def test_node_hash_prefixes_one_byte() -> None:
    left, right = b"\x11" * 32, b"\x22" * 32
    expected = hashlib.sha256(b"\x01" + left + right).hexdigest()
    assert merkle.node_hash(left.hex(), right.hex()) == expected


@pytest.mark.parametrize("size", SIZES)
def test_root_matches_reference_mth(size: int) -> None:
    entries = entry_hashes(size)
    expected = ref_mth(entries).hex()
    assert merkle.root_hash([ref_leaf(e).hex() for e in entries]) == expected
    assert merkle.tree_root(size, lookup_for(entries)) == expected


@pytest.mark.parametrize("size", SIZES)
def test_frontier_creates_exactly_the_perfect_subtrees(size: int) -> None:
    entries = entry_hashes(size)
    frontier = merkle.Frontier()
    created = {}
    for i, entry in enumerate(entries):
        for level, index, digest in frontier.append(ref_leaf(entry)):
            created[(level, index)] = digest
        assert frontier.root() == ref_mth(entries[: i + 1])
    assert created == stored_nodes(entries)


@pytest.mark.parametrize("size", SIZES)
def test_restored_frontier_continues_like_a_fresh_one(size: int) -> None:
    entries = entry_hashes(size + 5)
    lookup = lookup_for(entries)
    frontier = merkle.Frontier.restore(size, lookup)
    assert frontier.root() == ref_mth(entries[:size])
    for i in range(size, size + 5):
        frontier.append(ref_leaf(entries[i]))
        assert frontier.root() == ref_mth(entries[: i + 1])


@pytest.mark.parametrize("size", SIZES)
def test_completed_nodes_on_append_match_frontier(size: int) -> None:
    entries = entry_hashes(size)
    nodes: dict[tuple[int, int], bytes] = {}
    for i, entry in enumerate(entries):
        for level, index, digest in merkle.completed_nodes(
            i, ref_leaf(entry), lambda lv, ix: nodes[(lv, ix)]
        ):
            nodes[(level, index)] = digest
    assert nodes == stored_nodes(entries)


# --- inclusion ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_inclusion_proofs_match_reference_path_and_verify(size: int) -> None:
    entries = entry_hashes(size)
    lookup = lookup_for(entries)
    root = ref_mth(entries).hex()
    for index in range(size):
        proof = merkle.inclusion_proof(index, size, lookup)
        assert proof == [h.hex() for h in ref_path(index, entries)]
        needed = merkle.inclusion_proof_nodes(index, size)
        assert merkle.inclusion_proof(index, size, restricted(lookup, needed)) == proof
        leaf = ref_leaf(entries[index]).hex()
        assert merkle.verify_inclusion(leaf, index, size, proof, root)


@pytest.mark.parametrize("size", SIZES)
def test_inclusion_proofs_against_older_tree_sizes(size: int) -> None:
    entries = entry_hashes(size)
    lookup = lookup_for(entries)
    for tree_size in range(1, size + 1):
        root = ref_mth(entries[:tree_size]).hex()
        for index in range(tree_size):
            proof = merkle.inclusion_proof(index, tree_size, lookup)
            assert proof == [h.hex() for h in ref_path(index, entries[:tree_size])]
            assert merkle.verify_inclusion(
                ref_leaf(entries[index]).hex(), index, tree_size, proof, root
            )


@pytest.mark.parametrize("size", range(1, 9))
def test_inclusion_fails_on_any_flipped_bit(size: int) -> None:
    entries = entry_hashes(size)
    lookup = lookup_for(entries)
    root = ref_mth(entries).hex()
    for index in range(size):
        proof = merkle.inclusion_proof(index, size, lookup)
        leaf = ref_leaf(entries[index]).hex()
        for position in range(len(proof)):
            for bit in (0, 7, 100, 255):
                mutated = [*proof]
                mutated[position] = flip(mutated[position], bit)
                assert not merkle.verify_inclusion(leaf, index, size, mutated, root)
        for bit in (0, 255):
            assert not merkle.verify_inclusion(flip(leaf, bit), index, size, proof, root)
            assert not merkle.verify_inclusion(leaf, index, size, proof, flip(root, bit))


@pytest.mark.parametrize("size", range(1, 9))
def test_inclusion_fails_with_wrong_index_or_size(size: int) -> None:
    entries = entry_hashes(size)
    lookup = lookup_for(entries)
    root = ref_mth(entries).hex()
    for index in range(size):
        proof = merkle.inclusion_proof(index, size, lookup)
        leaf = ref_leaf(entries[index]).hex()
        for wrong_index in range(-1, size + 2):
            if wrong_index != index:
                assert not merkle.verify_inclusion(leaf, wrong_index, size, proof, root)
        for wrong_size in range(0, size + 4):
            if wrong_size != size and ref_sides(index, wrong_size) != ref_sides(index, size):
                assert not merkle.verify_inclusion(leaf, index, wrong_size, proof, root)


def test_a_wrong_size_with_the_same_path_shape_is_bound_only_by_the_signed_root() -> None:
    """Leaf 0 of a 3-tree and of a 4-tree have proofs of the same shape: the RFC algorithm cannot
    tell the sizes apart, which is why a tree head signs tree_size together with root_hash."""
    entries = entry_hashes(4)
    lookup = lookup_for(entries)
    assert ref_sides(0, 3) == ref_sides(0, 4)
    proof3 = merkle.inclusion_proof(0, 3, lookup)
    root3 = ref_mth(entries[:3]).hex()
    leaf = ref_leaf(entries[0]).hex()
    assert merkle.verify_inclusion(leaf, 0, 4, proof3, root3)
    assert not merkle.verify_inclusion(leaf, 0, 4, proof3, ref_mth(entries).hex())


def test_inclusion_fails_with_extra_or_missing_path_elements() -> None:
    entries = entry_hashes(7)
    proof = merkle.inclusion_proof(2, 7, lookup_for(entries))
    leaf, root = ref_leaf(entries[2]).hex(), ref_mth(entries).hex()
    assert not merkle.verify_inclusion(leaf, 2, 7, proof[:-1], root)
    assert not merkle.verify_inclusion(leaf, 2, 7, [*proof, proof[0]], root)


def test_inclusion_rejects_malformed_hex_without_raising() -> None:
    entries = entry_hashes(4)
    proof = merkle.inclusion_proof(1, 4, lookup_for(entries))
    leaf, root = ref_leaf(entries[1]).hex(), ref_mth(entries).hex()
    assert not merkle.verify_inclusion("zz", 1, 4, proof, root)
    assert not merkle.verify_inclusion(leaf, 1, 4, [proof[0][:-2], *proof[1:]], root)
    assert not merkle.verify_inclusion(leaf, 1, 4, proof, root + "00")


def test_inclusion_proof_generation_refuses_index_outside_tree() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_proof(4, 4, lookup_for(entry_hashes(4)))


# --- consistency ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_consistency_proofs_match_reference_and_verify(size: int) -> None:
    entries = entry_hashes(size)
    lookup = lookup_for(entries)
    second_root = ref_mth(entries).hex()
    for first in range(1, size + 1):
        proof = merkle.consistency_proof(first, size, lookup)
        assert proof == [h.hex() for h in ref_proof(first, entries)]
        needed = merkle.consistency_proof_nodes(first, size)
        assert merkle.consistency_proof(first, size, restricted(lookup, needed)) == proof
        first_root = ref_mth(entries[:first]).hex()
        assert merkle.verify_consistency(first, size, first_root, second_root, proof)


@pytest.mark.parametrize("size", range(2, 9))
def test_consistency_fails_on_any_flipped_bit(size: int) -> None:
    entries = entry_hashes(size)
    lookup = lookup_for(entries)
    second_root = ref_mth(entries).hex()
    for first in range(1, size):
        proof = merkle.consistency_proof(first, size, lookup)
        first_root = ref_mth(entries[:first]).hex()
        for position in range(len(proof)):
            for bit in (0, 9, 255):
                mutated = [*proof]
                mutated[position] = flip(mutated[position], bit)
                assert not merkle.verify_consistency(first, size, first_root, second_root, mutated)
        assert not merkle.verify_consistency(first, size, flip(first_root, 3), second_root, proof)
        assert not merkle.verify_consistency(first, size, first_root, flip(second_root, 3), proof)


@pytest.mark.parametrize("size", range(2, 9))
def test_consistency_fails_with_wrong_sizes(size: int) -> None:
    entries = entry_hashes(size)
    lookup = lookup_for(entries)
    second_root = ref_mth(entries).hex()
    for first in range(1, size):
        proof = merkle.consistency_proof(first, size, lookup)
        first_root = ref_mth(entries[:first]).hex()
        shape = ref_proof_sides(first, size)
        for wrong_first in range(0, size + 2):
            if wrong_first != first and ref_proof_sides(wrong_first, size) != shape:
                assert not merkle.verify_consistency(
                    wrong_first, size, first_root, second_root, proof
                )
        for wrong_second in range(0, size + 4):
            if wrong_second != size and ref_proof_sides(first, wrong_second) != shape:
                assert not merkle.verify_consistency(
                    first, wrong_second, first_root, second_root, proof
                )


def test_consistency_of_equal_sizes_needs_an_empty_proof_and_equal_roots() -> None:
    entries = entry_hashes(5)
    root = ref_mth(entries).hex()
    assert merkle.consistency_proof(5, 5, lookup_for(entries)) == []
    assert merkle.verify_consistency(5, 5, root, root, [])
    assert not merkle.verify_consistency(5, 5, root, flip(root, 1), [])
    assert not merkle.verify_consistency(5, 5, root, root, [root])


def test_consistency_from_the_empty_tree() -> None:
    root = ref_mth(entry_hashes(3)).hex()
    assert merkle.verify_consistency(0, 3, merkle.EMPTY_ROOT_HEX, root, [])
    assert not merkle.verify_consistency(0, 3, root, root, [])


def test_consistency_rejects_first_larger_than_second_and_empty_proofs() -> None:
    entries = entry_hashes(6)
    r3, r6 = ref_mth(entries[:3]).hex(), ref_mth(entries).hex()
    assert not merkle.verify_consistency(6, 3, r6, r3, [])
    assert not merkle.verify_consistency(3, 6, r3, r6, [])
    with pytest.raises(ValueError):
        merkle.consistency_proof(0, 6, lookup_for(entries))


# --- entry hash and tree-head signatures ------------------------------------------------------------


def sample_entry() -> dict:
    return {
        "tenant_id": "tnt_0123456789abcdef",
        "seq": 1,
        "event_type": "PolicyRuleCreated",
        "entity_type": "POLICY_RULE",
        "entity_id": "rule-1",
        "actor_type": "HUMAN",
        "actor_id": "user-1",
        "action_reason": None,
        "before_state": None,
        "after_state": {"confidence": 0.9, "policy_id": "p1"},
        "created_at": "2026-01-01T00:00:00+00:00",
        "prev_hash": ledger.GENESIS_PREV_HASH,
        "id": "al_0000000000000000",
        "entry_hash": "ignored",
    }


def test_entry_hash_is_sha256_of_rfc8785_json_of_the_listed_fields() -> None:
    entry = sample_entry()
    expected_payload = {key: entry[key] for key in ledger.ENTRY_HASH_FIELDS}
    expected = hashlib.sha256(rfc8785.dumps(expected_payload)).hexdigest()
    assert ledger.entry_hash(entry) == expected
    assert ledger.entry_hash({**entry, "id": "al_ffffffffffffffff"}) == expected
    assert ledger.entry_hash({**entry, "action_reason": "x"}) != expected


def test_tree_head_signature_round_trip_and_tamper() -> None:
    key = Ed25519PrivateKey.generate()
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    head = {"tree_size": 3, "root_hash": "ab" * 32, "timestamp": "2026-01-01T00:00:00+00:00"}
    message = ledger.tree_head_message("tnt_a", 3, "ab" * 32, head["timestamp"])
    assert message == rfc8785.dumps({"tenant_id": "tnt_a", **head})
    head["signature"] = base64.b64encode(key.sign(message)).decode()
    assert ledger.verify_tree_head_signature(head, "tnt_a", public)
    assert not ledger.verify_tree_head_signature(head, "tnt_b", public)
    assert not ledger.verify_tree_head_signature({**head, "tree_size": 4}, "tnt_a", public)
    assert not ledger.verify_tree_head_signature({**head, "signature": "!!"}, "tnt_a", public)
