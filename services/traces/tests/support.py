"""Helpers of the traces tests (importable, unlike a conftest): settings, tenants, traces, stand-in servers."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson

from aos_common.testing import principal_headers
from aos_common.testing.servers import free_port
from aos_traces.settings import TracesSettings


def traces_settings(database_url: str, redis_url: str, **overrides: Any) -> TracesSettings:
    return TracesSettings(
        database_url=database_url,
        redis_url=redis_url,
        environment="test",
        telemetry_enabled=False,
        outbox_interval_seconds=3600,
        **{"otlp_grpc_port": 0, **overrides},
    )


@dataclass
class Tenant:
    id: str

    def headers(self, *roles: str, permissions: list[str] | None = None) -> dict[str, str]:
        return principal_headers(
            self.id, roles=list(roles) if roles else ["admin"], permissions=permissions
        )

    @property
    def admin(self) -> dict[str, str]:
        return self.headers("admin")

    @property
    def developer(self) -> dict[str, str]:
        return self.headers("developer")

    @property
    def viewer(self) -> dict[str, str]:
        return self.headers("viewer")


def make_trace(
    run_id: str | None = None, steps: int = 2, key_prefix: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A completed trace; step idempotency keys are `{key_prefix}:{index}` (default: the run id),
    so two traces with equal content need an equal `key_prefix`."""
    run_id = run_id or "run_" + secrets.token_hex(8)
    key_prefix = key_prefix or run_id
    return {
        "run_id": run_id,
        "agent_id": "agent-1",
        "seed": 42,
        "frozen_timestamp": "2026-01-01T00:00:00+00:00",
        "started_at": "2026-11-01T10:00:00+00:00",
        "completed_at": "2026-11-01T10:00:05+00:00",
        "status": "completed",
        "plan": [{"skill": "http"}],
        "steps": [
            {
                "step_index": index,
                "skill_id": f"skill_{index}",
                "skill_name": f"Skill {index}",
                "params": {"n": index},
                "status": "success",
                "outcome_category": "success",
                "outcome_data": {"out": index},
                "cost_cents": 1.5,
                "duration_ms": 10,
                "timestamp": f"2026-11-01T10:00:0{index % 10}+00:00",
                "idempotency_key": f"{key_prefix}:{index}",
            }
            for index in range(steps)
        ],
        **fields,
    }


def replayable_trace() -> dict[str, Any]:
    """Three steps replaying three ways: 0 executes, 1 skips, 2 checks (recorded {"out": 2})."""
    trace = make_trace(steps=3)
    for step, behaviour in zip(trace["steps"], ("execute", "skip", "check"), strict=True):
        step["replay_behavior"] = behaviour
    return trace


async def store(client: httpx.AsyncClient, tenant: Tenant, trace: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/traces", json={"trace": trace}, headers=tenant.admin)
    assert response.status_code == 201, response.text
    return response.json()["data"]


class Recorder(BaseHTTPRequestHandler):
    """Stands in for GitHub's REST API or a webhook receiver: records every POST."""

    requests: list[dict[str, Any]]
    status: int = 201

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = orjson.loads(self.rfile.read(length) or b"null")
        self.server.requests.append(  # type: ignore[attr-defined]
            {"path": self.path, "headers": dict(self.headers), "body": body}
        )
        number = len(self.server.requests)  # type: ignore[attr-defined]
        payload = orjson.dumps(
            {"html_url": f"https://github.example/o/r/issues/{number}", "number": number}
        )
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        return


@dataclass
class LocalServer:
    url: str
    requests: list[dict[str, Any]]


def start_local_server(status: int = 201) -> tuple[LocalServer, Callable[[], None]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.requests = []  # type: ignore[attr-defined]
    server.status = status  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    url = f"http://127.0.0.1:{server.server_address[1]}"
    return LocalServer(url, server.requests), stop  # type: ignore[attr-defined]


class UvicornThread:
    """An app served by uvicorn on a free port in its own thread (and its own event loop), for
    clients that need a real socket, such as the OpenTelemetry OTLP exporter."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        import uvicorn

        self.port = port or free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, timeout: float = 30.0) -> UvicornThread:
        import time

        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
