"""The migration goes up and down cleanly, and the tables refuse UPDATE, DELETE and TRUNCATE
at the database level, even for a session in replica mode."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import asyncpg
import httpx
import pytest

from aos_common.migrations import downgrade, upgrade
from aos_common.testing import create_database, drop_database

from .support import admin, append, new_tenant


def in_thread(action: Callable[[], None]) -> None:
    """Alembic's env.py runs its own event loop; keep it away from the test loop."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@pytest.fixture
def scratch_database(postgres_server_url: str) -> Iterator[str]:
    url = create_database(postgres_server_url, prefix="aos_audit_migrations")
    yield url
    drop_database(url)


async def tables(url: str) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'audit'")
        functions = await connection.fetchval(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'audit'"
        )
    finally:
        await connection.close()
    return {row["tablename"] for row in rows} | ({"<functions>"} if functions else set())


async def test_migration_upgrades_downgrades_and_upgrades_again(scratch_database: str) -> None:
    in_thread(lambda: upgrade("aos_audit_ledger", scratch_database))
    assert {"entries", "merkle_nodes", "tree_heads", "outbox", "<functions>"} <= await tables(
        scratch_database
    )
    in_thread(lambda: downgrade("aos_audit_ledger", scratch_database, "0001"))
    assert await tables(scratch_database) == {"outbox", "alembic_version"}
    in_thread(lambda: downgrade("aos_audit_ledger", scratch_database, "base"))
    assert await tables(scratch_database) == {"alembic_version"}
    in_thread(lambda: upgrade("aos_audit_ledger", scratch_database))
    assert "entries" in await tables(scratch_database)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit.entries SET action_reason = 'x' WHERE tenant_id = $1",
        "DELETE FROM audit.entries WHERE tenant_id = $1",
        "UPDATE audit.merkle_nodes SET hash = '\\x00' WHERE tenant_id = $1",
        "DELETE FROM audit.merkle_nodes WHERE tenant_id = $1",
        "DELETE FROM audit.tree_heads WHERE tenant_id = $1",
    ],
)
@pytest.mark.parametrize("replica", [False, True])
async def test_rows_cannot_be_changed_or_removed(
    client: httpx.AsyncClient, ledger_database_url: str, statement: str, replica: bool
) -> None:
    tenant = new_tenant()
    await append(client, tenant)
    await client.get("/api/v1/audit/tree-head", headers=admin(tenant))
    connection = await asyncpg.connect(ledger_database_url)
    try:
        if replica:
            await connection.execute("SET session_replication_role = replica")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await connection.execute(statement, tenant)
    finally:
        await connection.close()


@pytest.mark.parametrize("table", ["entries", "merkle_nodes", "tree_heads"])
@pytest.mark.parametrize("replica", [False, True])
async def test_tables_cannot_be_truncated(
    ledger_database_url: str, table: str, replica: bool
) -> None:
    connection = await asyncpg.connect(ledger_database_url)
    try:
        if replica:
            await connection.execute("SET session_replication_role = replica")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await connection.execute(f"TRUNCATE audit.{table}")
    finally:
        await connection.close()
