"""The whole platform as real processes, started once per test session by `aos up`.

With AOS_TEST_DATABASE_URL / AOS_TEST_REDIS_URL set (CI), `aos up` runs against a fresh database
on that server and that Redis; without them it starts its own embedded PostgreSQL and Redis, the
same path a newcomer's `aos up` takes. Ports are free ones, so a developer's own `aos up` does not
collide. Tests marked `platform_shutdown` stop the platform and therefore run last.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from aos_cli.testing import RunningPlatform, platform_data_dir, platform_env, start_platform
from aos_common.testing import create_database, drop_database

START_TIMEOUT_SECONDS = 150.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "platform_shutdown: stops the shared platform; collected after everything else"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("platform_shutdown") is not None)


@pytest.fixture(scope="session")
def platform() -> Iterator[RunningPlatform]:
    # aos up's own readiness limit is raised so that a slow, shared machine fails one timed test
    # (test_gateway_readyz_answers_200 checks the 60 s) rather than every test of the session.
    overrides: dict[str, str] = {"AOS_UP_TIMEOUT": str(START_TIMEOUT_SECONDS)}
    database_url = None
    server_url = os.environ.get("AOS_TEST_DATABASE_URL")
    if server_url:
        database_url = create_database(server_url, prefix="aos_e2e")
        overrides["DATABASE_URL"] = database_url
    redis_url = os.environ.get("AOS_TEST_REDIS_URL")
    if redis_url:
        overrides["REDIS_URL"] = redis_url
    try:
        with platform_data_dir() as data_dir:
            running = start_platform(
                platform_env(data_dir, overrides), timeout=START_TIMEOUT_SECONDS
            )
            try:
                yield running
            finally:
                if running.process.poll() is None:
                    running.interrupt()
                running.kill_everything()
    finally:
        if database_url is not None:
            drop_database(database_url)
