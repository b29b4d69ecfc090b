"""Helpers behind the pytest fixtures; usable from benchmarks too."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from aos_common.auth import Principal, sign_context
from aos_common.migrations import upgrade
from aos_common.settings import DEVELOPMENT_INTERNAL_SECRET

_migrated: set[tuple[str, str]] = set()
_migrate_lock = threading.Lock()


def _server_dsn(url: str, database: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(_server_dsn(url, make_url(url).database or "postgres"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def create_database(server_url: str, prefix: str = "aos_test") -> str:
    """Create a uniquely named database on the server of `server_url` and return its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    return _server_dsn(server_url, name)


def drop_database(database_url: str) -> None:
    parsed = make_url(database_url)
    admin_url = parsed.set(database="postgres").render_as_string(hide_password=False)
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))


def run_in_thread(action: Callable[[], None]) -> None:
    """Run `action` in a thread of its own and re-raise what it raised.

    Alembic's env.py runs its own event loop; a thread keeps it away from a running one (a test's).
    """
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


def migrate(package: str, database_url: str) -> None:
    """Run a service's migrations once per database in this process (thread-safe, loop-free)."""
    with _migrate_lock:
        if (package, database_url) in _migrated:
            return
        run_in_thread(lambda: upgrade(package, database_url))
        _migrated.add((package, database_url))


def principal_headers(
    tenant_id: str | None,
    *,
    roles: list[str] | None = None,
    permissions: list[str] | None = None,
    principal_id: str = "user_test",
    principal_type: str = "user",
    secret: str = DEVELOPMENT_INTERNAL_SECRET,
) -> dict[str, str]:
    """Headers a gateway would attach for this principal (signed with the internal secret)."""
    principal = Principal(
        tenant_id=tenant_id,
        principal_id=principal_id,
        principal_type=principal_type,  # type: ignore[arg-type]
        roles=roles if roles is not None else ["admin"],
        permissions=permissions or [],
    )
    return sign_context(principal, secret)


@asynccontextmanager
async def app_client(
    app: FastAPI, *, base_url: str = "http://testserver", headers: Mapping[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to `app` in-process, with the app's lifespan running."""
    async with app.router.lifespan_context(app):
        # A client sees the 500 response; the exception itself goes to the log, as under uvicorn.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url=base_url, headers=dict(headers or {})
        ) as client:
            yield client


@asynccontextmanager
async def failing_inserts(database_url: str, table: str, tenant_id: str) -> AsyncIterator[None]:
    """Make the database refuse every row inserted into `table` for `tenant_id` while inside.

    A real failure at the database in the middle of a multi-statement write (a trigger raising),
    scoped to one tenant so other tests sharing the database are unaffected — the way to show a
    write is one transaction: the statements before the failing one must not stay committed.
    """
    name = "aos_test_fail_" + secrets.token_hex(4)
    schema = table.rpartition(".")[0]
    connection = await asyncpg.connect(
        _server_dsn(database_url, make_url(database_url).database or "")
    )
    try:
        await connection.execute(
            f"CREATE FUNCTION {schema}.{name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.tenant_id = '{tenant_id}' THEN "
            f"RAISE EXCEPTION 'refused by the test for tenant %', NEW.tenant_id; END IF; "
            f"RETURN NEW; END $$"
        )
        await connection.execute(
            f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {schema}.{name}()"
        )
        try:
            yield
        finally:
            await connection.execute(f"DROP TRIGGER {name} ON {table}")
            await connection.execute(f"DROP FUNCTION {schema}.{name}()")
    finally:
        await connection.close()


async def rows_read(connection: asyncpg.Connection, schema: str, table: str) -> int:
    """Rows of `schema.table` the connection's current transaction has read so far (by index or
    sequentially): how a test tells a key lookup from a scan, whatever plan was chosen."""
    value = await connection.fetchval(
        "SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) "
        "FROM pg_stat_xact_user_tables WHERE schemaname = $1 AND relname = $2",
        schema,
        table,
    )
    return int(value or 0)
