"""Completed traces are immutable in the database itself: only archival may change them."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from .support import Tenant, make_trace, store


async def test_completed_trace_rejects_updates_but_allows_archival(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    stored = await store(client, tenant, make_trace())
    connection = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.CheckViolationError, match="completed and immutable"):
            await connection.execute(
                "UPDATE traces.traces SET root_hash = 'x' WHERE tenant_id = $1 AND trace_id = $2",
                tenant.id,
                stored["trace_id"],
            )
        await connection.execute(
            "UPDATE traces.traces SET archived_at = now() WHERE tenant_id = $1 AND trace_id = $2",
            tenant.id,
            stored["trace_id"],
        )
        with pytest.raises(asyncpg.CheckViolationError, match="append-only"):
            await connection.execute(
                "UPDATE traces.trace_steps SET status = 'failure' WHERE tenant_id = $1", tenant.id
            )
    finally:
        await connection.close()


async def test_running_trace_may_still_change(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    stored = await store(client, tenant, make_trace(status="running", completed_at=None))
    connection = await asyncpg.connect(database_url)
    try:
        result = await connection.execute(
            "UPDATE traces.traces SET status = 'completed', completed_at = now() "
            "WHERE tenant_id = $1 AND trace_id = $2",
            tenant.id,
            stored["trace_id"],
        )
    finally:
        await connection.close()
    assert result == "UPDATE 1"
