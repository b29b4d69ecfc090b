"""Guard-logs wired to the REAL traces, audit-ledger and cost-intel apps, in-process, on real
Postgres and Redis. Peers are reached through a streaming ASGI transport (see streaming_asgi)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from aos_common.testing import app_client, migrate, principal_headers
from aos_common.testing.streaming import StreamingASGITransport
from aos_guard_logs.main import create_app
from aos_guard_logs.settings import GuardLogsSettings

PEERS = {
    "traces": ("aos_traces", "TracesSettings"),
    "audit-ledger": ("aos_audit_ledger", "AuditLedgerSettings"),
    "cost-intel": ("aos_cost_intel", "CostIntelSettings"),
}


@dataclass
class Platform:
    guard: FastAPI
    client: httpx.AsyncClient
    peers: dict[str, FastAPI]
    peer_clients: dict[str, httpx.AsyncClient]

    def streaming_client(self) -> httpx.AsyncClient:
        """A client that reads guard-logs responses as they stream (no buffering)."""
        return httpx.AsyncClient(
            transport=StreamingASGITransport(self.guard),
            base_url="http://guard-logs",
            timeout=120,
        )


def settings_kwargs(database_url: str, redis_url: str) -> dict[str, Any]:
    return {
        "database_url": database_url,
        "redis_url": redis_url,
        "environment": "test",
        "telemetry_enabled": False,
        "outbox_interval_seconds": 0.2,
    }


@pytest.fixture(scope="session")
async def platform(database_url: str, redis_url: str) -> AsyncIterator[Platform]:
    import importlib

    kwargs = settings_kwargs(database_url, redis_url)
    migrate("aos_guard_logs", database_url)
    peers: dict[str, FastAPI] = {}
    for name, (package, settings_name) in PEERS.items():
        migrate(package, database_url)
        settings = getattr(importlib.import_module(f"{package}.settings"), settings_name)(**kwargs)
        peers[name] = importlib.import_module(f"{package}.main").create_app(settings)
    guard = create_app(
        GuardLogsSettings(**kwargs),
        transports={name: StreamingASGITransport(app) for name, app in peers.items()},
    )
    async with AsyncExitStack() as stack:
        peer_clients = {
            name: await stack.enter_async_context(app_client(app, base_url=f"http://{name}"))
            for name, app in peers.items()
        }
        client = await stack.enter_async_context(app_client(guard, base_url="http://guard-logs"))
        yield Platform(guard=guard, client=client, peers=peers, peer_clients=peer_clients)


def new_tenant() -> str:
    return "tnt_" + secrets.token_hex(8)


def reader(tenant_id: str, **kwargs: Any) -> dict[str, str]:
    """A customer key's principal: the default permissions, no roles."""
    return principal_headers(
        tenant_id,
        roles=[],
        permissions=["run:*", "read:*"],
        principal_type="api_key",
        principal_id="key_" + secrets.token_hex(8),
        **kwargs,
    )


def writer(tenant_id: str) -> dict[str, str]:
    return principal_headers(tenant_id, roles=["developer"])


def make_trace(
    index: int, *, agent_id: str = "agent-a", steps: int = 3, run_id: str | None = None
) -> dict[str, Any]:
    run_id = run_id or "run_" + secrets.token_hex(8)
    return {
        "trace_id": "trace_" + secrets.token_hex(8),
        "run_id": run_id,
        "agent_id": agent_id,
        "status": "completed",
        "started_at": f"2026-01-01T00:{index:02d}:00+00:00",
        "completed_at": f"2026-01-01T00:{index:02d}:30+00:00",
        "seed": 42,
        "frozen_timestamp": "2026-01-01T00:00:00+00:00",
        "plan": [{"skill": "search"}],
        "metadata": {"source": "guard-logs tests"},
        "steps": [
            {
                "step_index": step,
                "skill_id": f"skill.{step}",
                "skill_name": f"Skill {step}",
                "params": {"q": step},
                "status": "failure" if step == 1 else "success",
                "outcome_category": "ok" if step != 1 else "error",
                "outcome_code": None,
                "outcome_data": {"answer": step},
                "cost_cents": 1.5,
                "duration_ms": 100 + step,
                "retry_count": 0,
                "timestamp": f"2026-01-01T00:{index:02d}:{step + 1:02d}+00:00",
            }
            for step in range(steps)
        ],
    }


async def store_trace(platform: Platform, tenant_id: str, trace: dict[str, Any]) -> dict[str, Any]:
    response = await platform.peer_clients["traces"].post(
        "/api/v1/traces", json={"trace": trace}, headers=writer(tenant_id)
    )
    assert response.status_code == 201, response.text
    return trace
