"""Every query of the ledger (the hand-written hot-path statements live in `sql.py`). Returns
pydantic models, dataclasses or plain tuples, never ORM rows.

Tenant scoping goes through `aos_common.db.tenant_scoped` for built queries; the hand-written
statements take the tenant as a bound parameter in every table they touch. Nothing reads across
tenants.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aos_audit_ledger.ledger.schemas import EntryRead
from aos_audit_ledger.ledger.sql import BEGIN_APPEND_SQL, INSERT_SQL, NODES_SQL, PROOF_MATERIAL_SQL
from aos_audit_ledger.models import Entry, MerkleNode, TreeHead
from aos_common.db import tenant_scoped
from aos_common.envelope import iso_utc

Node = tuple[int, int]
ENTRY_COLUMNS = (
    Entry.id,
    Entry.seq,
    Entry.tenant_id,
    Entry.event_type,
    Entry.entity_type,
    Entry.entity_id,
    Entry.actor_type,
    Entry.actor_id,
    Entry.action_reason,
    Entry.before_state,
    Entry.after_state,
    Entry.created_at,
    Entry.prev_hash,
    Entry.entry_hash,
)
HEAD_COLUMNS = (
    TreeHead.tenant_id,
    TreeHead.tree_size,
    TreeHead.key_id,
    TreeHead.root_hash,
    TreeHead.timestamp,
    TreeHead.signature,
)


@dataclass(frozen=True)
class EntryFilters:
    event_type: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    actor_type: str | None = None
    run_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    max_seq: int | None = None


@dataclass(frozen=True)
class NewEntry:
    entry: EntryRead
    dedup_key: str
    run_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class AppendContext:
    existing: EntryRead | None
    last: tuple[int, str, datetime] | None
    siblings: dict[Node, bytes]


@dataclass(frozen=True)
class StoredTreeHead:
    tenant_id: str
    tree_size: int
    key_id: str
    root_hash: str
    timestamp: datetime
    signature: str


@dataclass(frozen=True)
class VerifiedRow:
    """An entry as stored plus the leaf node stored for it (None when missing)."""

    entry: EntryRead
    leaf: bytes | None


def entry_from_row(row: Any) -> EntryRead:
    return EntryRead(
        id=row.id,
        seq=row.seq,
        tenant_id=row.tenant_id,
        event_type=row.event_type,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        actor_type=row.actor_type,
        actor_id=row.actor_id,
        action_reason=row.action_reason,
        before_state=row.before_state,
        after_state=row.after_state,
        created_at=iso_utc(row.created_at),
        prev_hash=row.prev_hash,
        entry_hash=row.entry_hash,
    )


def _head_from_row(row: Any) -> StoredTreeHead:
    return StoredTreeHead(
        tenant_id=row.tenant_id,
        tree_size=row.tree_size,
        key_id=row.key_id,
        root_hash=row.root_hash,
        timestamp=row.timestamp,
        signature=row.signature,
    )


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._read_only = False

    def _entries(self, tenant_id: str) -> Select[Any]:
        return tenant_scoped(select(*ENTRY_COLUMNS), Entry.tenant_id, tenant_id)

    # --- appends ----------------------------------------------------------------------------------

    async def begin_append(self, tenant_id: str, dedup_key: str | None) -> AppendContext:
        """Take the tenant's append lock (held until the transaction ends; other tenants never
        wait), then read the entry already written under `dedup_key`, if any, or else the newest
        entry and the stored nodes the next leaf completes
        (`aos_proofs.merkle.append_sibling_nodes(newest seq)`)."""
        rows = (
            await self.session.execute(
                BEGIN_APPEND_SQL, {"tenant_id": tenant_id, "dedup_key": dedup_key}
            )
        ).all()
        if not rows:
            return AppendContext(None, None, {})
        first = rows[0]
        if first.existing_seq is not None:
            existing = (
                await self.session.execute(
                    self._entries(tenant_id).where(Entry.seq == first.existing_seq)
                )
            ).one()
            return AppendContext(entry_from_row(existing), None, {})
        siblings = {
            (row.node_level, row.node_idx): bytes(row.node_hash)
            for row in rows
            if row.node_level is not None
        }
        return AppendContext(None, (first.last_seq, first.last_hash, first.last_created), siblings)

    async def insert_entry(self, new: NewEntry, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        """The entry and the Merkle nodes it completes, in one statement of fixed shape (compiled
        once: this is the hot path)."""
        entry = new.entry
        levels, idxs, hashes = zip(*nodes, strict=True)
        await self.session.execute(
            INSERT_SQL,
            {
                "tenant_id": entry.tenant_id,
                "seq": entry.seq,
                "id": entry.id,
                "dedup_key": new.dedup_key,
                "event_type": entry.event_type,
                "entity_type": entry.entity_type,
                "entity_id": entry.entity_id,
                "actor_type": entry.actor_type,
                "actor_id": entry.actor_id,
                "action_reason": entry.action_reason,
                "before_state": entry.before_state,
                "after_state": entry.after_state,
                "run_id": new.run_id,
                "created_at": new.created_at,
                "prev_hash": entry.prev_hash,
                "entry_hash": entry.entry_hash,
                "levels": list(levels),
                "idxs": list(idxs),
                "hashes": list(hashes),
            },
        )

    # --- Merkle nodes -------------------------------------------------------------------------------

    async def read_only(self) -> None:
        """Run this request's statements without BEGIN/COMMIT (two round trips fewer). Only for
        requests whose writes, if any, are single idempotent statements: the ledger's rows never
        change once written, so reads need no shared snapshot."""
        if not self._read_only:
            self._read_only = True
            await self.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    async def proof_material(
        self, tenant_id: str, seq: int | None, wanted: Iterable[Node]
    ) -> tuple[int, str | None, dict[Node, bytes]]:
        """Tree size, the entry_hash at `seq` and the stored nodes at `wanted`, in one query."""
        coordinates = sorted(set(wanted))
        rows = (
            await self.session.execute(
                PROOF_MATERIAL_SQL,
                {
                    "tenant_id": tenant_id,
                    "seq": seq,
                    "levels": [level for level, _ in coordinates],
                    "idxs": [idx for _, idx in coordinates],
                },
            )
        ).all()
        nodes = {(row.level, row.idx): bytes(row.hash) for row in rows if row.level is not None}
        return int(rows[0].size), rows[0].entry_hash, nodes

    def _size(self, tenant_id: str) -> Any:
        statement = select(func.coalesce(func.max(Entry.seq), 0))
        return tenant_scoped(statement, Entry.tenant_id, tenant_id).scalar_subquery()

    async def tree_size(self, tenant_id: str) -> int:
        return int(await self.session.scalar(select(self._size(tenant_id))) or 0)

    async def size_and_latest_head(
        self, tenant_id: str, key_id: str
    ) -> tuple[int, StoredTreeHead | None]:
        """The tree size and the newest head signed with `key_id`, in one round trip when a head
        exists (the usual case)."""
        statement = tenant_scoped(
            select(*HEAD_COLUMNS, self._size(tenant_id).label("size")),
            TreeHead.tenant_id,
            tenant_id,
        )
        row = (
            await self.session.execute(
                statement.where(TreeHead.key_id == key_id)
                .order_by(TreeHead.tree_size.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            return await self.tree_size(tenant_id), None
        return int(row.size), _head_from_row(row)

    async def nodes(self, tenant_id: str, wanted: Iterable[Node]) -> dict[Node, bytes]:
        """The stored perfect-subtree hashes at `wanted` (level, idx) positions, in one query."""
        coordinates = sorted(set(wanted))
        if not coordinates:
            return {}
        rows = await self.session.execute(
            NODES_SQL,
            {
                "tenant_id": tenant_id,
                "levels": [level for level, _ in coordinates],
                "idxs": [idx for _, idx in coordinates],
            },
        )
        return {(row.level, row.idx): bytes(row.hash) for row in rows}

    # --- reads --------------------------------------------------------------------------------------

    def _filtered(self, statement: Select[Any], filters: EntryFilters) -> Select[Any]:
        conditions = []
        if filters.event_type is not None:
            conditions.append(Entry.event_type == filters.event_type)
        if filters.entity_type is not None:
            conditions.append(Entry.entity_type == filters.entity_type)
        if filters.entity_id is not None:
            conditions.append(Entry.entity_id == filters.entity_id)
        if filters.actor_type is not None:
            conditions.append(Entry.actor_type == filters.actor_type)
        if filters.run_id is not None:
            conditions.append(Entry.run_id == filters.run_id)
        if filters.created_from is not None:
            conditions.append(Entry.created_at >= filters.created_from)
        if filters.created_to is not None:
            conditions.append(Entry.created_at <= filters.created_to)
        if filters.max_seq is not None:
            conditions.append(Entry.seq <= filters.max_seq)
        return statement.where(*conditions) if conditions else statement

    async def list_entries(
        self,
        tenant_id: str,
        filters: EntryFilters,
        *,
        limit: int,
        offset: int,
        newest_first: bool = True,
    ) -> tuple[list[EntryRead], int]:
        statement = self._filtered(self._entries(tenant_id), filters)
        order = Entry.seq.desc() if newest_first else Entry.seq.asc()
        rows = await self.session.execute(statement.order_by(order).limit(limit).offset(offset))
        counted = self._filtered(
            tenant_scoped(select(func.count()).select_from(Entry), Entry.tenant_id, tenant_id),
            filters,
        )
        total = int(await self.session.scalar(counted) or 0)
        return [entry_from_row(row) for row in rows], total

    async def entry_hash_at(self, tenant_id: str, seq: int) -> str | None:
        statement = tenant_scoped(select(Entry.entry_hash), Entry.tenant_id, tenant_id)
        return await self.session.scalar(statement.where(Entry.seq == seq))

    async def entry_hashes(self, tenant_id: str, seqs: Sequence[int]) -> dict[int, str]:
        if not seqs:
            return {}
        statement = tenant_scoped(select(Entry.seq, Entry.entry_hash), Entry.tenant_id, tenant_id)
        rows = await self.session.execute(statement.where(Entry.seq.in_(list(seqs))))
        return {row.seq: row.entry_hash for row in rows}

    async def rows_for_verification(
        self, tenant_id: str, *, after_seq: int, up_to_seq: int, limit: int
    ) -> list[VerifiedRow]:
        """The next batch of entries in seq order, each with its stored leaf (keyset paging)."""
        statement = (
            tenant_scoped(select(*ENTRY_COLUMNS, MerkleNode.hash), Entry.tenant_id, tenant_id)
            .outerjoin(
                MerkleNode,
                (MerkleNode.tenant_id == Entry.tenant_id)
                & (MerkleNode.level == 0)
                & (MerkleNode.idx == Entry.seq - 1),
            )
            .where(Entry.seq > after_seq, Entry.seq <= up_to_seq)
            .order_by(Entry.seq)
            .limit(limit)
        )
        rows = await self.session.execute(statement)
        return [
            VerifiedRow(entry_from_row(row), bytes(row.hash) if row.hash is not None else None)
            for row in rows
        ]

    # --- tree heads ---------------------------------------------------------------------------------

    async def tree_head_at(
        self, tenant_id: str, tree_size: int, key_id: str
    ) -> StoredTreeHead | None:
        statement = tenant_scoped(select(*HEAD_COLUMNS), TreeHead.tenant_id, tenant_id)
        row = (
            await self.session.execute(
                statement.where(TreeHead.tree_size == tree_size, TreeHead.key_id == key_id)
            )
        ).first()
        return _head_from_row(row) if row else None

    async def insert_tree_head(self, head: StoredTreeHead) -> None:
        """Store a signed head; a concurrent request may have stored one for the same size first."""
        await self.session.execute(
            pg_insert(TreeHead)
            .values(
                tenant_id=head.tenant_id,
                tree_size=head.tree_size,
                key_id=head.key_id,
                root_hash=head.root_hash,
                timestamp=head.timestamp,
                signature=head.signature,
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "tree_size", "key_id"])
        )

    async def tree_heads_between(
        self, tenant_id: str, low: int, high: int
    ) -> Sequence[StoredTreeHead]:
        statement = tenant_scoped(select(*HEAD_COLUMNS), TreeHead.tenant_id, tenant_id)
        rows = await self.session.execute(
            statement.where(TreeHead.tree_size >= low, TreeHead.tree_size <= high).order_by(
                TreeHead.tree_size
            )
        )
        return [_head_from_row(row) for row in rows]
