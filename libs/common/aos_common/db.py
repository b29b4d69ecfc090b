"""Async SQLAlchemy engine, sessions and the one-transaction-per-request session dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import BindParameter, Delete, MetaData, Select, Update
from sqlalchemy.engine import make_url
from sqlalchemy.ext import asyncio as sqlalchemy_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aos_common.state import service_state

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CommitCallback = Callable[[], Awaitable[None]]
ScopedT = TypeVar("ScopedT", bound=Select[Any] | Update | Delete)
# A tenant id, or a bound parameter for statements built once and executed with the id.
TenantRef = str | BindParameter[Any]


def schema_metadata(schema: str) -> MetaData:
    """Metadata for a service's own Postgres schema, with stable constraint names for migrations."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def asyncpg_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` URLs and return the asyncpg dialect form."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError(f"Not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(url: str, *, application_name: str, pool_size: int = 10) -> AsyncEngine:
    """The service's engine; `hide_parameters` keeps customer data out of every error's text."""
    # Looked up on the module so that OpenTelemetry's SQLAlchemy instrumentation sees the call.
    return sqlalchemy_asyncio.create_async_engine(
        asyncpg_url(url),
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"server_settings": {"application_name": application_name}},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def on_commit(session: AsyncSession, callback: CommitCallback) -> None:
    """Run `callback` once the request's transaction has committed (e.g. store an idempotent reply)."""
    session.info.setdefault("after_commit", []).append(callback)


def on_rollback(session: AsyncSession, callback: CommitCallback) -> None:
    """Run `callback` if the request's transaction is rolled back."""
    session.info.setdefault("after_rollback", []).append(callback)


async def _run_callbacks(session: AsyncSession, name: str) -> None:
    callbacks: list[CommitCallback] = session.info.pop(name, [])
    for callback in callbacks:
        await callback()


async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One transaction: commit on success, roll back on error, then the registered callbacks."""
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            session.info.pop("after_commit", None)
            await _run_callbacks(session, "after_rollback")
            raise
        else:
            await session.commit()
            session.info.pop("after_rollback", None)
            await _run_callbacks(session, "after_commit")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in session_scope(service_state(request.app).sessionmaker):
        yield session


# scope="function": the commit happens before the response is sent, so a client that sees 201
# can read what it created at once.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def tenant_scoped(statement: ScopedT, tenant_column: Any, tenant_id: TenantRef) -> ScopedT:
    """The one place a statement is restricted to a tenant: repositories call it for every read,
    update and delete. A bound tenant id renders the very same predicate as a literal one."""
    return statement.where(tenant_column == tenant_id)  # type: ignore[return-value]


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session's transaction, for COPY and array binds.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, with the session's first statement; without
    one, statements sent straight to the driver would each commit on their own (traces without
    their steps, a claimed request id without its record), so the transaction is begun here.
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, asyncpg.Connection)
    if not driver.is_in_transaction():
        await connection.exec_driver_sql("SELECT 1")
    return driver


async def fetch_page(
    conn: asyncpg.Connection, query: str, *args: object
) -> tuple[list[asyncpg.Record], int]:
    """Run a page query that selects `count(*) OVER () AS total` beside its columns; returns the
    rows and that count (0 for an empty page), so a list needs one round trip, not two."""
    rows = await conn.fetch(query, *args)
    return list(rows), (rows[0]["total"] if rows else 0)


async def status_page(
    conn: asyncpg.Connection,
    table: str,
    columns: str,
    tenant_id: str,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    """A tenant's rows of `table` (schema-qualified), newest first (created_at, then id), of one
    `status` or of any: the shape every status-filtered list shares."""
    return await fetch_page(
        conn,
        f"""
        SELECT {columns}, count(*) OVER () AS total FROM {table}
        WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2)
        ORDER BY created_at DESC, id LIMIT $3 OFFSET $4
        """,
        tenant_id,
        status,
        limit,
        offset,
    )
