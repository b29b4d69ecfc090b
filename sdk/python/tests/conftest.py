"""Fixtures for the SDK tests; the stub server itself lives in sdk_stub.py (importable by tests)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sdk_stub import StubServer, envelope


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    server._thread.start()
    yield server
    server._server.shutdown()
    server._server.server_close()


@pytest.fixture
def aos_stub(stub: StubServer) -> StubServer:
    """The stub answering the routes a run touches, like the real services would."""
    stub.default("GET", "/api/v1/tenant", {"id": "tnt_0123456789abcdef", "name": "Acme"})
    stub.default(
        "POST",
        "/api/v1/runs",
        lambda seen: {
            "id": seen.body.get("run_id"),
            "worker_id": seen.body["worker_id"],
            "task": seen.body["task"],
            "status": "running",
            "created_at": "2026-01-01T00:00:00Z",
        },
        201,
    )
    stub.default(
        "PATCH", "/api/v1/runs/", lambda seen: {"id": seen.path.rsplit("/", 1)[1], **seen.body}
    )
    stub.default(
        "POST",
        "/api/v1/traces",
        lambda seen: envelope(
            {
                "trace_id": seen.body["trace"]["trace_id"],
                "root_hash": seen.body["trace"]["root_hash"],
                "stored": True,
                "replay_mode": None,
            }
        ),
        201,
    )
    return stub
