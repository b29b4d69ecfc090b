"""The embedded PostgreSQL a test session starts (no AOS_TEST_DATABASE_URL, no Docker) keeps
running when another pytest session starts on the machine: that session re-restricts pytest's
base temp to 0700, and as root pgserver runs PostgreSQL as an unprivileged user, so a cluster kept
under that base temp aborted at its next checkpoint (every later test of a fresh clone's
`make test` then failed whenever someone else ran pytest)."""

from __future__ import annotations

import os

import asyncpg
import pytest


async def test_the_session_postgres_survives_another_pytest_session_starting(
    postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if "host=/" not in postgres_server_url:
        pytest.skip("this session uses a configured or Docker PostgreSQL, not the embedded one")
    if os.geteuid() != 0:
        pytest.skip("pgserver runs PostgreSQL as another user only when started as root")
    tmp_path_factory.getbasetemp().parent.chmod(0o700)  # what a pytest session starting does
    connection = await asyncpg.connect(postgres_server_url)
    try:
        await connection.execute("CHECKPOINT")  # the checkpointer reopens global/pg_control
        assert await connection.fetchval("SELECT 1") == 1
    finally:
        await connection.close()
