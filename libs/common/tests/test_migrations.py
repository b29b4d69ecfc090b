"""`python -m aos_common.migrations <package>`, as every replica's init container runs it during a
rollout: started together on an empty database they take turns under the advisory lock, and a
run with nothing to do (the next release's pods) succeeds without change."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from sqlalchemy import text

from aos_common.db import create_engine
from aos_common.migrations import migration_lock_key

REPLICAS = 3


def _migrate_processes(database_url: str, count: int) -> list[subprocess.Popen[bytes]]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AOS_")}
    environment["DATABASE_URL"] = database_url
    return [
        subprocess.Popen(
            [sys.executable, "-m", "aos_common.migrations", "aos_audit_ledger"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(count)
    ]


async def _version(database_url: str) -> str:
    engine = create_engine(database_url, application_name="aos-migrations-test")
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT version_num FROM audit.alembic_version"))
            return str(result.scalar_one())
    finally:
        await engine.dispose()


def test_replicas_migrating_at_once_all_succeed_and_a_rerun_changes_nothing(
    scratch_database: str,
) -> None:
    processes = _migrate_processes(scratch_database, REPLICAS)
    outcomes = [(p.wait(timeout=120), p.stderr.read().decode()) for p in processes]  # type: ignore[union-attr]
    assert [code for code, _ in outcomes] == [0] * REPLICAS, outcomes
    version = asyncio.run(_version(scratch_database))
    (again,) = _migrate_processes(scratch_database, 1)
    assert again.wait(timeout=120) == 0
    assert asyncio.run(_version(scratch_database)) == version


def test_each_schema_has_its_own_lock_key() -> None:
    keys = {migration_lock_key(schema) for schema in ("tenants", "traces", "cost_intel", "audit")}
    assert len(keys) == 4
    assert all(-(2**63) <= key < 2**63 for key in keys)
