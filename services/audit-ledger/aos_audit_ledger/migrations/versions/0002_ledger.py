"""The ledger: entries (hash chain), Merkle perfect-subtree nodes, signed tree heads; all three
refuse UPDATE, DELETE and TRUNCATE through triggers enabled ALWAYS (so `session_replication_role =
replica` does not bypass them).

Revision ID: 0002
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "audit"
APPEND_ONLY_TABLES = ("entries", "merkle_nodes", "tree_heads")


def upgrade() -> None:
    op.create_table(
        "entries",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("dedup_key", sa.String(128), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(255), nullable=False),
        sa.Column("actor_type", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(255), nullable=False),
        sa.Column("action_reason", sa.Text(), nullable=True),
        sa.Column("before_state", postgresql.JSON(), nullable=True),
        sa.Column("after_state", postgresql.JSON(), nullable=True),
        sa.Column("run_id", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "seq", name="pk_entries"),
        sa.CheckConstraint("seq >= 1", name="ck_entries_seq_positive"),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_entries_tenant_id_id", "entries", ["tenant_id", "id"], unique=True, schema=SCHEMA
    )
    op.create_index(
        "uq_entries_tenant_id_dedup_key",
        "entries",
        ["tenant_id", "dedup_key"],
        unique=True,
        schema=SCHEMA,
    )
    op.create_index(
        "ix_entries_tenant_entity",
        "entries",
        ["tenant_id", "entity_type", "entity_id", "seq"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_entries_tenant_event_type", "entries", ["tenant_id", "event_type", "seq"], schema=SCHEMA
    )
    op.create_index(
        "ix_entries_tenant_run",
        "entries",
        ["tenant_id", "run_id", "seq"],
        schema=SCHEMA,
        postgresql_where=sa.text("run_id IS NOT NULL"),
    )
    op.create_table(
        "merkle_nodes",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False, autoincrement=False),
        sa.Column("idx", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "level", "idx", name="pk_merkle_nodes"),
        schema=SCHEMA,
    )
    op.create_table(
        "tree_heads",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "tree_size", "key_id", name="pk_tree_heads"),
        schema=SCHEMA,
    )
    op.execute(
        f"""
        CREATE FUNCTION {SCHEMA}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit ledger is append-only: % on %.% is refused',
                TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_refuse_update_delete BEFORE UPDATE OR DELETE "
            f"ON {SCHEMA}.{table} FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_refuse_truncate BEFORE TRUNCATE "
            f"ON {SCHEMA}.{table} FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.refuse_change()"
        )
        op.execute(
            f"ALTER TABLE {SCHEMA}.{table} ENABLE ALWAYS TRIGGER {table}_refuse_update_delete"
        )
        op.execute(f"ALTER TABLE {SCHEMA}.{table} ENABLE ALWAYS TRIGGER {table}_refuse_truncate")


def downgrade() -> None:
    for table in APPEND_ONLY_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_truncate ON {SCHEMA}.{table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_update_delete ON {SCHEMA}.{table}")
    op.execute(f"DROP FUNCTION IF EXISTS {SCHEMA}.refuse_change()")
    op.drop_table("tree_heads", schema=SCHEMA)
    op.drop_table("merkle_nodes", schema=SCHEMA)
    op.drop_index("ix_entries_tenant_run", table_name="entries", schema=SCHEMA)
    op.drop_index("ix_entries_tenant_event_type", table_name="entries", schema=SCHEMA)
    op.drop_index("ix_entries_tenant_entity", table_name="entries", schema=SCHEMA)
    op.drop_index("uq_entries_tenant_id_dedup_key", table_name="entries", schema=SCHEMA)
    op.drop_index("uq_entries_tenant_id_id", table_name="entries", schema=SCHEMA)
    op.drop_table("entries", schema=SCHEMA)
