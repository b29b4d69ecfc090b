"""Tables of the audit-ledger service, all in the `audit` schema.

Every table is append-only (database triggers refuse UPDATE, DELETE and TRUNCATE) and leads its
primary key and indexes with `tenant_id`, so the ledger can be distributed by tenant.

- `entries`: the hash chain, one row per entry, `seq` 1, 2, ... per tenant. States are `json`,
  not `jsonb`: stored verbatim, they read back as exactly the values that were hashed (`jsonb`
  would turn 1e19 into the integer 10000000000000000000, which has no RFC 8785 form).
- `merkle_nodes`: every perfect subtree hash of each tenant's RFC 6962 tree, keyed by
  (level, idx); written in the append's transaction, so any root or proof is O(log n) reads.
- `tree_heads`: the signed tree heads handed out, so the same size always gets the same head and
  `/verify` can check the chain against every head ever signed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, LargeBinary, SmallInteger, String, Text
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aos_common.db import schema_metadata
from aos_common.idempotency import idempotency_table
from aos_common.outbox import outbox_table

SCHEMA = "audit"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


outbox = outbox_table(Base.metadata)
idempotency_keys = idempotency_table(Base.metadata)


class Entry(Base):
    __tablename__ = "entries"
    __table_args__ = (
        Index("uq_entries_tenant_id_id", "tenant_id", "id", unique=True),
        Index("uq_entries_tenant_id_dedup_key", "tenant_id", "dedup_key", unique=True),
        Index("ix_entries_tenant_entity", "tenant_id", "entity_type", "entity_id", "seq"),
        Index("ix_entries_tenant_event_type", "tenant_id", "event_type", "seq"),
        Index(
            "ix_entries_tenant_run",
            "tenant_id",
            "run_id",
            "seq",
            postgresql_where="run_id IS NOT NULL",
        ),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(64))
    dedup_key: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(255))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(255))
    action_reason: Mapped[str | None] = mapped_column(Text)
    before_state: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    after_state: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class MerkleNode(Base):
    __tablename__ = "merkle_nodes"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class TreeHead(Base):
    __tablename__ = "tree_heads"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    root_hash: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    signature: Mapped[str] = mapped_column(String(128))
