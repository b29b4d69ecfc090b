"""RFC 6962 / RFC 9162 Merkle trees for the audit ledger. Pure functions, no I/O, so the ledger,
guard-logs bundles and `aos-verify` compute and check the very same trees.

Storage model: the ledger stores every *perfect* subtree hash, keyed by (level, index), where node
(level, index) covers leaves [index * 2**level, (index + 1) * 2**level). Every node of the RFC tree
of any size is either such a perfect subtree or a "ragged" right-edge node that is the right fold of
O(log n) perfect subtrees (every range the RFC recursion visits starts at a multiple of the largest
power of two not above its length). So roots and proofs cost O(log n) lookups: generators name the
(level, index) pairs they need (`*_nodes`), the caller fetches them in one query, then builds.

Hashes are bytes internally and lowercase hex at the API edge; verifiers never raise on malformed
input, they return False.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT_HEX = hashlib.sha256(b"").hexdigest()

Node = tuple[int, int]
NodeLookup = Callable[[int, int], bytes]
Range = tuple[int, int]


# --- hashing ------------------------------------------------------------------------------------


def leaf_hash_bytes(entry_hash: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry_hash).digest()


def node_hash_bytes(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_hash(entry_hash_hex: str) -> str:
    """RFC 6962 leaf hash of an entry: SHA-256(0x00 || the 32 bytes of its entry_hash)."""
    return leaf_hash_bytes(bytes.fromhex(entry_hash_hex)).hex()


def node_hash(left_hex: str, right_hex: str) -> str:
    return node_hash_bytes(bytes.fromhex(left_hex), bytes.fromhex(right_hex)).hex()


def root_hash_bytes(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, built bottom-up through a `Frontier` (O(n) time, O(log n) memory)."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def root_hash(leaf_hashes_hex: Sequence[str]) -> str:
    return root_hash_bytes([bytes.fromhex(leaf) for leaf in leaf_hashes_hex]).hex()


def _split(size: int) -> int:
    """k: the largest power of two strictly smaller than `size` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


# --- which stored nodes a computation needs -------------------------------------------------------


def subtree_nodes(start: int, end: int) -> list[Node]:
    """The perfect subtrees composing an RFC-tree range [start, end), largest (leftmost) first."""
    nodes: list[Node] = []
    position = start
    remaining = end - start
    while remaining > 0:
        level = remaining.bit_length() - 1
        if position % (1 << level):
            raise ValueError(f"[{start}, {end}) is not a range of an RFC 6962 tree")
        nodes.append((level, position >> level))
        position += 1 << level
        remaining -= 1 << level
    return nodes


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose MTHs form PATH(index, D[0:size]) (RFC 6962 §2.1.1), leaf level first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[Range] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m = start + k, m - k
    ranges.reverse()
    return ranges


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The ranges whose MTHs form PROOF(first, D[0:second]) (RFC 6962 §2.1.2), deepest first."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    ranges: list[Range] = []
    start, end, m, complete = 0, second, first, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def _nodes_of(ranges: Iterable[Range]) -> set[Node]:
    return {node for start, end in ranges for node in subtree_nodes(start, end)}


def root_nodes(size: int) -> set[Node]:
    return set(subtree_nodes(0, size))


def inclusion_proof_nodes(index: int, size: int) -> set[Node]:
    return _nodes_of(inclusion_ranges(index, size))


def consistency_proof_nodes(first: int, second: int) -> set[Node]:
    return _nodes_of(consistency_ranges(first, second))


# --- building from stored perfect subtrees ---------------------------------------------------------


def range_hash(start: int, end: int, lookup: NodeLookup) -> bytes:
    """MTH(D[start:end]) for a range of the RFC tree: the right fold of its perfect subtrees."""
    hashes = [lookup(level, index) for level, index in subtree_nodes(start, end)]
    if not hashes:
        return bytes.fromhex(EMPTY_ROOT_HEX)
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash_bytes(left, result)
    return result


def tree_root(size: int, lookup: NodeLookup) -> str:
    return range_hash(0, size, lookup).hex()


def inclusion_proof(index: int, size: int, lookup: NodeLookup) -> list[str]:
    return [range_hash(start, end, lookup).hex() for start, end in inclusion_ranges(index, size)]


def consistency_proof(first: int, second: int, lookup: NodeLookup) -> list[str]:
    return [range_hash(s, e, lookup).hex() for s, e in consistency_ranges(first, second)]


def append_sibling_nodes(index: int) -> list[Node]:
    """Stored nodes needed to complete the perfect subtrees that appending leaf `index` closes."""
    siblings: list[Node] = []
    level = 1
    while (index + 1) % (1 << level) == 0:
        siblings.append((level - 1, ((index + 1) >> (level - 1)) - 2))
        level += 1
    return siblings


def completed_nodes(index: int, leaf: bytes, lookup: NodeLookup) -> list[tuple[int, int, bytes]]:
    """Every perfect-subtree node (level, index, hash) that exists once leaf `index` is appended."""
    nodes = [(0, index, leaf)]
    current = leaf
    for level, sibling_index in append_sibling_nodes(index):
        current = node_hash_bytes(lookup(level, sibling_index), current)
        nodes.append((level + 1, sibling_index // 2, current))
    return nodes


class Frontier:
    """The right edge of a growing tree (one perfect subtree per set bit of its size)."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []

    @classmethod
    def restore(cls, size: int, lookup: NodeLookup) -> Frontier:
        """The frontier of a stored tree of `size` leaves (its `subtree_nodes(0, size)`)."""
        frontier = cls()
        frontier.size = size
        frontier._stack = [(level, lookup(level, index)) for level, index in subtree_nodes(0, size)]
        return frontier

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf; returns the perfect-subtree nodes it completes, the leaf itself first."""
        index = self.size
        self.size += 1
        created = [(0, index, leaf)]
        self._stack.append((0, leaf))
        while len(self._stack) >= 2 and self._stack[-1][0] == self._stack[-2][0]:
            level, right = self._stack.pop()
            _, left = self._stack.pop()
            merged = node_hash_bytes(left, right)
            self._stack.append((level + 1, merged))
            created.append((level + 1, (self.size >> (level + 1)) - 1, merged))
        return created

    def root(self) -> bytes:
        if not self._stack:
            return bytes.fromhex(EMPTY_ROOT_HEX)
        result = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            result = node_hash_bytes(left, result)
        return result


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) -------------------------------------------------


def _decode(value: str) -> bytes | None:
    try:
        decoded = bytes.fromhex(value)
    except (ValueError, TypeError):
        return None
    return decoded if len(decoded) == HASH_SIZE else None


def _decode_all(values: Sequence[str]) -> list[bytes] | None:
    decoded = [_decode(value) for value in values]
    if any(value is None for value in decoded):
        return None
    return [value for value in decoded if value is not None]


def verify_inclusion_bytes(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, result = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash_bytes(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash_bytes(result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def verify_inclusion(
    leaf_hash_hex: str, leaf_index: int, tree_size: int, audit_path: Sequence[str], root_hex: str
) -> bool:
    """Does `audit_path` prove the leaf at `leaf_index` is in the tree of `tree_size` with root?"""
    leaf, root, path = _decode(leaf_hash_hex), _decode(root_hex), _decode_all(audit_path)
    if leaf is None or root is None or path is None:
        return False
    return verify_inclusion_bytes(leaf, leaf_index, tree_size, path, root)


def verify_consistency_bytes(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    if first < 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == bytes.fromhex(EMPTY_ROOT_HEX)
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash_bytes(node, fr)
            sr = node_hash_bytes(node, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash_bytes(sr, node)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def verify_consistency(
    first: int, second: int, first_root_hex: str, second_root_hex: str, proof: Sequence[str]
) -> bool:
    """Does `proof` show the tree of size `first` is a prefix of the tree of size `second`?"""
    first_root, second_root = _decode(first_root_hex), _decode(second_root_hex)
    path = _decode_all(proof)
    if first_root is None or second_root is None or path is None:
        return False
    return verify_consistency_bytes(first, second, first_root, second_root, path)
