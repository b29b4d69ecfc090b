"""A webhook receiver the tests start (uvicorn in a thread, a real socket): it records what it
is sent and answers each path's configured status."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aos_common.testing import app_client
from aos_cost_intel.main import create_app
from aos_cost_intel.settings import CostIntelSettings


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    def at(self, path: str) -> list[Received]:
        return [item for item in self.received if item.path == path]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = Receiver(url=f"http://127.0.0.1:{port}")

    async def hook(request: Request) -> Response:
        path = request.url.path
        state.received.append(Received(path, dict(request.headers), await request.body()))
        return Response(status_code=state.statuses.get(path, 204))

    app = Starlette(routes=[Route("/{name:path}", hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield state
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
async def alerts_app(
    settings: CostIntelSettings,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its alert and delivery jobs stopped: tests run the passes themselves."""
    app = create_app(
        settings.model_copy(
            update={
                "alert_interval_seconds": 0,
                "webhook_interval_seconds": 0,
                "webhook_max_attempts": 3,
                "webhook_backoff_seconds": 0.05,
                "webhook_timeout_seconds": 2.0,
            }
        )
    )
    async with app_client(app) as http:
        yield app, http
