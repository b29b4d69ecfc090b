"""`aos migrate` brings every service schema up to date and can run again.

Against AOS_TEST_DATABASE_URL's server when set (a fresh database), else against the embedded
PostgreSQL that `aos migrate` starts in its own data directory.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import asyncpg
import pytest
from typer.testing import CliRunner

from aos_cli.main import app
from aos_cli.testing import platform_data_dir
from aos_common.testing import create_database, drop_database

SCHEMAS = {"tenants", "traces", "cost_intel", "audit", "guard_logs"}


@pytest.fixture
def migrate_env() -> Iterator[dict[str, str]]:
    server_url = os.environ.get("AOS_TEST_DATABASE_URL")
    with platform_data_dir() as data_dir:
        if not server_url:
            yield {"AOS_DATA_DIR": str(data_dir), "DATABASE_URL": "", "AOS_DATABASE_URL": ""}
            return
        url = create_database(server_url, prefix="aos_cli_migrate")
        try:
            yield {"AOS_DATA_DIR": str(data_dir), "DATABASE_URL": url, "AOS_DATABASE_URL": ""}
        finally:
            drop_database(url)


async def _schemas(url: str) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT schema_name FROM information_schema.schemata")
    finally:
        await connection.close()
    return {row["schema_name"] for row in rows}


def test_migrate_is_idempotent_and_migrates_every_service(migrate_env: dict[str, str]) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["migrate"], env=migrate_env)
    second = runner.invoke(app, ["migrate"], env=migrate_env)
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "tenants, traces, cost-intel, audit-ledger, guard-logs." in second.output
    if migrate_env["DATABASE_URL"]:
        assert asyncio.run(_schemas(migrate_env["DATABASE_URL"])) >= SCHEMAS


def test_migrate_names_an_unknown_service() -> None:
    result = CliRunner().invoke(app, ["migrate", "--service", "nope"], env={"DATABASE_URL": ""})
    assert result.exit_code == 1
    assert "No migrations found for a service named 'nope'." in result.output
