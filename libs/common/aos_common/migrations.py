"""Alembic per service: the version table lives in the service's own schema.

Each service's `migrations/env.py` calls `run_env(target_metadata, schema)`. `upgrade`/`downgrade`
drive Alembic programmatically (for `aos migrate` and the tests); they must be called from a thread
with no running event loop, because env.py runs its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import sys
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from aos_common.db import asyncpg_url
from aos_common.services import SERVICES


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", asyncpg_url(database_url).replace("%", "%%"))
    return config


def migrations_dir_of(package: str) -> Path:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    return Path(module.__file__).parent / "migrations"


def upgrade(package: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir_of(package), database_url), revision)


def downgrade(package: str, database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(migrations_dir_of(package), database_url), revision)


def upgrade_all(database_url: str) -> list[str]:
    """Migrate every service that ships migrations; idempotent. Returns the services migrated."""
    migrated = []
    for spec in SERVICES:
        if spec.schema is None:
            continue
        try:
            directory = migrations_dir_of(spec.package)
        except ModuleNotFoundError:
            continue
        if (directory / "env.py").exists():
            upgrade(spec.package, database_url)
            migrated.append(spec.name)
    return migrated


def migration_lock_key(schema: str) -> int:
    """The Postgres advisory-lock key of one schema's migrations (signed 64-bit)."""
    digest = hashlib.sha256(f"aos-migrations:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _configure_and_run(connection: Connection, metadata: MetaData, schema: str) -> None:
    # Every replica's init container (and `aos migrate`) may run at once during a rollout: the
    # transaction-scoped lock makes them take turns, and each later one finds nothing to do.
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": migration_lock_key(schema)}
    )
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str, metadata: MetaData, schema: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure_and_run, metadata, schema)
            await connection.commit()
    finally:
        await engine.dispose()


def run_env(metadata: MetaData, schema: str) -> None:
    """Body of every service's migrations/env.py (online mode only; offline SQL is not supported)."""
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError(
            "sqlalchemy.url is not set; run migrations through aos_common.migrations"
        )
    asyncio.run(_run_online(url, metadata, schema))


def main(argv: list[str] | None = None) -> None:
    """`python -m aos_common.migrations <package>`: what a service image's init container runs
    (service images carry no `aos` command), against the service's own DATABASE_URL."""
    from aos_common.settings import ServiceSettings

    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        raise SystemExit(
            "usage: python -m aos_common.migrations <service package, e.g. aos_tenants>"
        )
    upgrade(arguments[0], ServiceSettings().database_url)
    print(f"migrated {arguments[0]}", flush=True)


def create_outbox_table(schema: str) -> None:
    """Migration step shared by every service's first revision: the transactional outbox."""
    import sqlalchemy as sa
    from alembic import op
    from sqlalchemy.dialects import postgresql

    op.create_table(
        "outbox",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("path", sa.String(255), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        schema=schema,
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["next_attempt_at"],
        schema=schema,
        postgresql_where=sa.text("delivered_at IS NULL"),
    )


def drop_outbox_table(schema: str) -> None:
    from alembic import op

    op.drop_index("ix_outbox_pending", table_name="outbox", schema=schema)
    op.drop_table("outbox", schema=schema)


def create_idempotency_table(schema: str) -> None:
    """Migration step of every service with idempotent routes (aos_common.idempotency)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("media_type", sa.String(255), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("tenant_id", "key", name="pk_idempotency_keys"),
        schema=schema,
    )


def drop_idempotency_table(schema: str) -> None:
    from alembic import op

    op.drop_table("idempotency_keys", schema=schema)


IDEMPOTENCY_EXPIRY_INDEX = "ix_idempotency_keys_created_at"


def create_idempotency_expiry_index(schema: str) -> None:
    """The index the purge of expired keys reads (aos_common.idempotency_purge)."""
    from alembic import op

    op.create_index(IDEMPOTENCY_EXPIRY_INDEX, "idempotency_keys", ["created_at"], schema=schema)


def drop_idempotency_expiry_index(schema: str) -> None:
    from alembic import op

    op.drop_index(IDEMPOTENCY_EXPIRY_INDEX, table_name="idempotency_keys", schema=schema)


if __name__ == "__main__":
    main()
