"""The ledger's domain logic: appends, signed tree heads, proofs and entity queries (no HTTP).

Appends of one tenant are serialised by a transaction-scoped advisory lock; inside it the next seq,
the chain link, the entry hash and the Merkle nodes the new leaf completes are computed and written
in the same transaction, so a reader never sees an entry without its nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aos_audit_ledger.ledger.errors import (
    EntryNotFound,
    InvalidRange,
    LedgerStorageInconsistent,
    SeqOutsideTree,
    TreeSizeTooLarge,
)
from aos_audit_ledger.ledger.repository import (
    EntryFilters,
    LedgerRepository,
    NewEntry,
    StoredTreeHead,
)
from aos_audit_ledger.ledger.schemas import (
    ConsistencyProofRead,
    EntriesWithProofsRead,
    EntryCreate,
    EntryRead,
    EntryWithProof,
    InclusionProofRead,
    SignedTreeHead,
)
from aos_audit_ledger.ledger.signing import TreeHeadSigner
from aos_common import domain_metrics
from aos_common.envelope import iso_utc, utc_now
from aos_common.ids import new_id
from aos_proofs import ledger, merkle

ENTRY_ID_PREFIX = "al_"


def new_entry_id() -> str:
    return new_id(ENTRY_ID_PREFIX)


def is_entry_id(value: str) -> bool:
    suffix = value[len(ENTRY_ID_PREFIX) :]
    return (
        value.startswith(ENTRY_ID_PREFIX)
        and len(suffix) == 16
        and all(c in "0123456789abcdef" for c in suffix)
    )


def run_id_of(data: EntryCreate) -> str | None:
    """The run an entry concerns (`run_id` in its after or before state), for run queries."""
    for state in (data.after_state, data.before_state):
        if state and isinstance(state.get("run_id"), str):
            return str(state["run_id"])[:255]
    return None


def node_lookup(nodes: Mapping[tuple[int, int], bytes]) -> Callable[[int, int], bytes]:
    def lookup(level: int, index: int) -> bytes:
        try:
            return nodes[(level, index)]
        except KeyError:
            raise LedgerStorageInconsistent(level, index) from None

    return lookup


def signed_head(head: StoredTreeHead, signer: TreeHeadSigner) -> SignedTreeHead:
    return SignedTreeHead(
        tenant_id=head.tenant_id,
        tree_size=head.tree_size,
        root_hash=head.root_hash,
        timestamp=iso_utc(head.timestamp),
        signature=head.signature,
        key_id=head.key_id,
        public_key=signer.public_key_b64,
    )


class LedgerService:
    def __init__(self, session: AsyncSession, signer: TreeHeadSigner) -> None:
        self.repository = LedgerRepository(session)
        self.signer = signer

    # --- appends ----------------------------------------------------------------------------------

    async def append(
        self,
        tenant_id: str,
        data: EntryCreate,
        *,
        actor_type: str,
        actor_id: str,
        dedup_key: str | None = None,
    ) -> tuple[EntryRead, bool]:
        """Append one entry; returns (entry, created). A known `dedup_key` returns the entry it
        wrote before (created False), so an outbox redelivery never writes twice.

        A dedup key shaped like an entry id (`al_` + 16 hex) becomes the entry's id, so producers
        can name the entry before it is delivered."""
        repository = self.repository
        context = await repository.begin_append(tenant_id, dedup_key)
        if context.existing is not None:
            return context.existing, False
        entry_id = dedup_key if dedup_key and is_entry_id(dedup_key) else new_entry_id()
        last = context.last
        seq = last[0] + 1 if last else 1
        created_at = utc_now()
        if last and created_at < last[2]:
            created_at = last[2]
        fields: dict[str, Any] = {
            "id": entry_id,
            "seq": seq,
            "tenant_id": tenant_id,
            "event_type": data.event_type.value,
            "entity_type": data.entity_type.value,
            "entity_id": data.entity_id,
            "actor_type": actor_type,
            "actor_id": actor_id,
            "action_reason": data.action_reason,
            "before_state": data.before_state,
            "after_state": data.after_state,
            "created_at": iso_utc(created_at),
            "prev_hash": last[1] if last else ledger.GENESIS_PREV_HASH,
        }
        entry = EntryRead(**fields, entry_hash=ledger.entry_hash(fields))
        leaf = merkle.leaf_hash_bytes(bytes.fromhex(entry.entry_hash))
        nodes = merkle.completed_nodes(seq - 1, leaf, node_lookup(context.siblings))
        await repository.insert_entry(
            NewEntry(
                entry=entry,
                dedup_key=dedup_key or entry_id,
                run_id=run_id_of(data),
                created_at=created_at,
            ),
            nodes,
        )
        domain_metrics.LEDGER_ENTRIES.labels("audit-ledger").inc()
        return entry, True

    # --- tree heads and proofs --------------------------------------------------------------------

    async def root_at(self, tenant_id: str, tree_size: int) -> str:
        nodes = await self.repository.nodes(tenant_id, merkle.root_nodes(tree_size))
        return merkle.tree_root(tree_size, node_lookup(nodes))

    async def tree_head(self, tenant_id: str) -> SignedTreeHead:
        """The signed head of the tenant's current tree. One head per size and key: asking twice
        without an append in between returns the very same head (bundles rely on that)."""
        repository, signer = self.repository, self.signer
        await repository.read_only()
        size, latest = await repository.size_and_latest_head(tenant_id, signer.key_id)
        if latest is not None and latest.tree_size == size:
            return signed_head(latest, signer)
        root = await self.root_at(tenant_id, size)
        moment = utc_now()
        signature = signer.sign_tree_head(tenant_id, size, root, iso_utc(moment))
        await repository.insert_tree_head(
            StoredTreeHead(tenant_id, size, signer.key_id, root, moment, signature)
        )
        stored = await repository.tree_head_at(tenant_id, size, signer.key_id)
        assert stored is not None
        return signed_head(stored, signer)

    async def inclusion_proof(
        self, tenant_id: str, seq: int, tree_size: int | None
    ) -> InclusionProofRead:
        """One query when `tree_size` is given (the nodes it needs are known up front), two
        otherwise."""
        repository = self.repository
        await repository.read_only()
        wanted: set[tuple[int, int]] = set()
        if tree_size is not None and seq <= tree_size:
            wanted = merkle.inclusion_proof_nodes(seq - 1, tree_size)
        size, entry_hash, nodes = await repository.proof_material(tenant_id, seq, wanted)
        if seq > size or entry_hash is None:
            raise EntryNotFound(seq)
        target = size if tree_size is None else tree_size
        if target > size:
            raise TreeSizeTooLarge("tree_size", target, size)
        if seq > target:
            raise SeqOutsideTree(seq, target)
        if tree_size is None:
            nodes = await repository.nodes(tenant_id, merkle.inclusion_proof_nodes(seq - 1, size))
        return InclusionProofRead(
            leaf_index=seq - 1,
            tree_size=target,
            leaf_hash=merkle.leaf_hash(entry_hash),
            audit_path=merkle.inclusion_proof(seq - 1, target, node_lookup(nodes)),
        )

    async def _proofs(
        self, tenant_id: str, seqs: list[int], tree_size: int
    ) -> dict[int, InclusionProofRead]:
        """Inclusion proofs for several entries against one tree size: two queries in all."""
        wanted: set[tuple[int, int]] = set()
        for seq in seqs:
            wanted |= merkle.inclusion_proof_nodes(seq - 1, tree_size)
        lookup = node_lookup(await self.repository.nodes(tenant_id, wanted))
        hashes = await self.repository.entry_hashes(tenant_id, seqs)
        proofs = {}
        for seq in seqs:
            if seq not in hashes:
                raise EntryNotFound(seq)
            proofs[seq] = InclusionProofRead(
                leaf_index=seq - 1,
                tree_size=tree_size,
                leaf_hash=merkle.leaf_hash(hashes[seq]),
                audit_path=merkle.inclusion_proof(seq - 1, tree_size, lookup),
            )
        return proofs

    async def consistency_proof(
        self, tenant_id: str, first: int, second: int | None
    ) -> ConsistencyProofRead:
        repository = self.repository
        await repository.read_only()
        wanted: set[tuple[int, int]] = set()
        if second is not None and first <= second:
            wanted = merkle.consistency_proof_nodes(first, second)
        size, _, nodes = await repository.proof_material(tenant_id, None, wanted)
        target = size if second is None else second
        if first > target:
            raise InvalidRange("first", "second")
        if target > size:
            raise TreeSizeTooLarge("second", target, size)
        if second is None:
            nodes = await repository.nodes(tenant_id, merkle.consistency_proof_nodes(first, size))
        proof = merkle.consistency_proof(first, target, node_lookup(nodes))
        return ConsistencyProofRead(first=first, second=target, proof=proof)

    # --- reads ------------------------------------------------------------------------------------

    async def list_entries(
        self,
        tenant_id: str,
        filters: EntryFilters,
        *,
        limit: int,
        offset: int,
        newest_first: bool = True,
    ) -> tuple[list[EntryRead], int]:
        if (
            filters.created_from is not None
            and filters.created_to is not None
            and filters.created_from > filters.created_to
        ):
            raise InvalidRange("from", "to")
        await self.repository.read_only()
        return await self.repository.list_entries(
            tenant_id, filters, limit=limit, offset=offset, newest_first=newest_first
        )

    async def entries_with_proofs(
        self, tenant_id: str, filters: EntryFilters, *, limit: int
    ) -> EntriesWithProofsRead:
        """The newest matching entries, each with an inclusion proof against one signed head."""
        head = await self.tree_head(tenant_id)
        bounded = EntryFilters(**{**filters.__dict__, "max_seq": head.tree_size})
        entries, _ = await self.repository.list_entries(
            tenant_id, bounded, limit=limit, offset=0, newest_first=True
        )
        proofs = await self._proofs(tenant_id, [entry.seq for entry in entries], head.tree_size)
        return EntriesWithProofsRead(
            tree_head=head,
            entries=[
                EntryWithProof(**entry.model_dump(), proof=proofs[entry.seq]) for entry in entries
            ],
        )
