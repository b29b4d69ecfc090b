"""The migration goes up and down cleanly, and the tables refuse UPDATE, DELETE and TRUNCATE
at the database level, even for a session in replica mode."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from aos_common.migrations import downgrade, upgrade
from aos_common.testing import run_in_thread

from .support import admin, append, new_tenant


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
    run_in_thread(lambda: upgrade("aos_audit_ledger", scratch_database))
    assert {"entries", "merkle_nodes", "tree_heads", "outbox", "<functions>"} <= await tables(
        scratch_database
    )
    run_in_thread(lambda: downgrade("aos_audit_ledger", scratch_database, "0001"))
    assert await tables(scratch_database) == {"outbox", "alembic_version"}
    run_in_thread(lambda: downgrade("aos_audit_ledger", scratch_database, "base"))
    assert await tables(scratch_database) == {"alembic_version"}
    run_in_thread(lambda: upgrade("aos_audit_ledger", scratch_database))
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
