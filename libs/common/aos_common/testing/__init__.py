"""Test support: real Postgres and Redis (never mocks), fresh databases, in-process clients."""

from aos_common.testing.support import (
    app_client,
    create_database,
    drop_database,
    failing_inserts,
    migrate,
    principal_headers,
    run_in_thread,
)

__all__ = [
    "app_client",
    "create_database",
    "drop_database",
    "failing_inserts",
    "migrate",
    "principal_headers",
    "run_in_thread",
]
