"""`/verify`: recompute every hash of a seq range and name the first entry that breaks.

For each entry, in seq order: the seq follows the previous one (no gap); the entry_hash matches the
RFC 8785 hash of the entry's fields; prev_hash is the previous entry's entry_hash; the stored Merkle
leaf is SHA-256(0x00 || entry_hash); every perfect-subtree node the entry completes matches the
node recomputed from the leaves; and where a tree head was signed at that size, the recomputed root
equals the signed root and the signature holds. Reads go in keyset-paged batches, so memory stays
flat however long the ledger is. A range starting after seq 1 trusts the stored prefix it starts
from (the previous entry's hash and the stored frontier nodes).
"""

from __future__ import annotations

import rfc8785

from aos_audit_ledger.ledger.errors import InvalidRange
from aos_audit_ledger.ledger.repository import LedgerRepository, StoredTreeHead
from aos_audit_ledger.ledger.schemas import VerifyRead
from aos_audit_ledger.ledger.service import node_lookup
from aos_audit_ledger.ledger.signing import TreeHeadSigner
from aos_common.envelope import iso_utc
from aos_proofs import ledger, merkle

BATCH_SIZE = 2000


class ChainBroken(Exception):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


def completed_positions(index: int) -> list[tuple[int, int]]:
    """(level, idx) of the internal nodes that appending leaf `index` completes."""
    return [(level + 1, sibling // 2) for level, sibling in merkle.append_sibling_nodes(index)]


class LedgerVerifier:
    def __init__(self, repository: LedgerRepository, signer: TreeHeadSigner) -> None:
        self.repository = repository
        self.signer = signer

    async def verify(self, tenant_id: str, from_seq: int | None, to_seq: int | None) -> VerifyRead:
        if from_seq is not None and to_seq is not None and from_seq > to_seq:
            raise InvalidRange("from_seq", "to_seq")
        await self.repository.read_only()
        size = await self.repository.tree_size(tenant_id)
        start = from_seq or 1
        end = size if to_seq is None else min(to_seq, size)
        if start > end:
            return VerifyRead(intact=True, checked=0)
        checked = 0
        try:
            checked = await self._walk(tenant_id, start, end)
        except ChainBroken as broken:
            checked = broken.seq - start + 1
            return VerifyRead(
                intact=False, checked=checked, broken_at_seq=broken.seq, reason=broken.reason
            )
        return VerifyRead(intact=True, checked=checked)

    async def _walk(self, tenant_id: str, start: int, end: int) -> int:
        repository = self.repository
        if start == 1:
            prev_hash: str | None = ledger.GENESIS_PREV_HASH
            frontier = merkle.Frontier()
        else:
            prev_hash = await repository.entry_hash_at(tenant_id, start - 1)
            if prev_hash is None:
                raise ChainBroken(start - 1, f"entry seq {start - 1} is missing")
            prefix = await repository.nodes(tenant_id, merkle.root_nodes(start - 1))
            frontier = merkle.Frontier.restore(start - 1, node_lookup(prefix))
        heads = {
            head.tree_size: head
            for head in await repository.tree_heads_between(tenant_id, start, end)
            if self.signer.public_key_for(head.key_id) is not None
        }
        expected, after = start, start - 1
        while after < end:
            rows = await repository.rows_for_verification(
                tenant_id, after_seq=after, up_to_seq=end, limit=BATCH_SIZE
            )
            if not rows:
                raise ChainBroken(expected, f"entry seq {expected} is missing")
            wanted = [p for row in rows for p in completed_positions(row.entry.seq - 1)]
            internal = await repository.nodes(tenant_id, wanted)
            for row in rows:
                entry = row.entry
                if entry.seq != expected:
                    raise ChainBroken(expected, f"entry seq {expected} is missing")
                try:
                    recomputed = ledger.entry_hash(entry.model_dump())
                except (rfc8785.CanonicalizationError, UnicodeError):
                    raise ChainBroken(
                        entry.seq, "the entry's content has no RFC 8785 form"
                    ) from None
                if recomputed != entry.entry_hash:
                    raise ChainBroken(entry.seq, "entry_hash does not match the entry's content")
                if entry.prev_hash != prev_hash:
                    raise ChainBroken(
                        entry.seq,
                        "prev_hash of the first entry is not 64 zeros"
                        if entry.seq == 1
                        else f"prev_hash does not match the entry_hash of seq {entry.seq - 1}",
                    )
                leaf = merkle.leaf_hash_bytes(bytes.fromhex(recomputed))
                if row.leaf is None:
                    raise ChainBroken(entry.seq, "the Merkle leaf of the entry is missing")
                if row.leaf != leaf:
                    raise ChainBroken(entry.seq, "the Merkle leaf does not match entry_hash")
                for level, index, digest in frontier.append(leaf)[1:]:
                    if internal.get((level, index)) != digest:
                        raise ChainBroken(
                            entry.seq,
                            f"Merkle node (level {level}, index {index}) does not match the entries",
                        )
                head = heads.get(entry.seq)
                if head is not None:
                    self._check_head(tenant_id, head, frontier.root().hex())
                prev_hash = entry.entry_hash
                expected += 1
            after = rows[-1].entry.seq
        return expected - start

    def _check_head(self, tenant_id: str, head: StoredTreeHead, root: str) -> None:
        if head.root_hash != root:
            raise ChainBroken(
                head.tree_size,
                f"the Merkle root at tree size {head.tree_size} does not match the signed tree head",
            )
        signed = {
            "tree_size": head.tree_size,
            "root_hash": head.root_hash,
            "timestamp": iso_utc(head.timestamp),
            "signature": head.signature,
        }
        public_key = self.signer.public_key_for(head.key_id)
        if not public_key or not ledger.verify_tree_head_signature(signed, tenant_id, public_key):
            raise ChainBroken(
                head.tree_size, f"the signed tree head at size {head.tree_size} has a bad signature"
            )
