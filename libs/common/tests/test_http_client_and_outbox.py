"""The service client's bounded retries and trace propagation, and outbox delivery exactly once."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import text

from aos_common.auth import Authenticator, InternalCallerDep
from aos_common.db import create_engine, create_sessionmaker
from aos_common.http_client import PeerUnavailable, ServiceClient
from aos_common.metrics import Metrics
from aos_common.outbox import OutboxRelay, enqueue
from aos_common.readiness import ReadinessProbes
from aos_common.settings import DEVELOPMENT_INTERNAL_SECRET, ServiceSettings
from aos_common.state import ServiceState
from aos_tenants.models import outbox


class FlakyPeer:
    """A peer answering 503 for the first `failures` calls; it records what it received."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        if len(self.received) <= self.failures:
            return httpx.Response(503)
        return httpx.Response(200, json={"ok": True})


def client_for(peer: FlakyPeer) -> ServiceClient:
    return ServiceClient(
        service_name="test",
        base_urls={"peer": "http://peer"},
        internal_secret=DEVELOPMENT_INTERNAL_SECRET,
        backoff_base=0.001,
        transports={"peer": httpx.MockTransport(peer)},
    )


async def test_get_is_retried_until_the_peer_answers() -> None:
    peer = FlakyPeer(failures=2)
    response = await client_for(peer).request("peer", "GET", "/x")
    assert response.status_code == 200 and len(peer.received) == 3
    assert "x-aos-context-signature" in peer.received[0].headers


async def test_retries_are_bounded_and_the_last_answer_is_returned() -> None:
    peer = FlakyPeer(failures=10)
    response = await client_for(peer).request("peer", "GET", "/x")
    assert response.status_code == 503 and len(peer.received) == 3


async def test_unreachable_peer_raises_peer_unavailable() -> None:
    client = ServiceClient(
        service_name="test",
        base_urls={"peer": "http://127.0.0.1:1"},
        internal_secret=DEVELOPMENT_INTERNAL_SECRET,
        backoff_base=0.001,
    )
    with pytest.raises(PeerUnavailable):
        await client.request("peer", "GET", "/x")


async def test_post_is_not_retried_unless_safe() -> None:
    peer = FlakyPeer(failures=1)
    response = await client_for(peer).request("peer", "POST", "/x", json={})
    assert response.status_code == 503 and len(peer.received) == 1


def receiver_app(received: dict[str, int]) -> FastAPI:
    """Stands in for a receiving service: de-duplicates by message id like audit-ledger does.
    Its state holds only what InternalCallerDep reads: an authenticator of signed contexts."""
    app = FastAPI()
    state = ServiceState(ServiceSettings(environment="test"), Metrics("sink"), ReadinessProbes())
    state.authenticator = Authenticator(
        internal_secret=DEVELOPMENT_INTERNAL_SECRET,
        operator_key=None,
        resolver=None,  # type: ignore[arg-type]
    )
    app.state.service = state

    @app.post("/internal/v1/sink")
    async def sink(request: Request, caller: InternalCallerDep) -> dict[str, str]:
        body = await request.json()
        received[body["id"]] = received.get(body["id"], 0) + 1
        return {"id": body["id"]}

    return app


async def enqueue_message(sessionmaker, message_id: str, destination: str) -> None:  # type: ignore[no-untyped-def]
    """One outbox message for `destination`, committed."""
    async with sessionmaker() as session, session.begin():
        await enqueue(
            session,
            outbox,
            destination=destination,
            path="/internal/v1/sink",
            payload={"tenant_id": "tnt_x"},
            message_id=message_id,
        )


@pytest.fixture
async def sessionmaker(migrated_database_url: str) -> AsyncIterator[object]:
    engine = create_engine(migrated_database_url, application_name="outbox-test")
    yield create_sessionmaker(engine)
    async with engine.begin() as connection:  # the database is shared with the tenants tests
        await connection.execute(
            text("DELETE FROM tenants.outbox WHERE destination IN ('sink', 'nowhere')")
        )
    await engine.dispose()


async def test_outbox_message_waits_while_peer_is_down_then_arrives_once(sessionmaker) -> None:
    received: dict[str, int] = {}
    app = receiver_app(received)
    message_id = f"msg-{secrets.token_hex(6)}"
    await enqueue_message(sessionmaker, message_id, "sink")

    down = ServiceClient(
        service_name="test",
        base_urls={"sink": "http://127.0.0.1:1"},
        internal_secret=DEVELOPMENT_INTERNAL_SECRET,
        backoff_base=0.001,
    )
    relay_down = OutboxRelay(sessionmaker=sessionmaker, table=outbox, client=down)
    await relay_down.deliver_pending()
    assert received == {}

    async with sessionmaker() as session, session.begin():
        await session.execute(
            text("UPDATE tenants.outbox SET next_attempt_at = now() WHERE id = :id"),
            {"id": message_id},
        )
    up = ServiceClient(
        service_name="test",
        base_urls={"sink": "http://sink"},
        internal_secret=DEVELOPMENT_INTERNAL_SECRET,
        transports={"sink": httpx.ASGITransport(app=app)},
    )
    relay_up = OutboxRelay(sessionmaker=sessionmaker, table=outbox, client=up)
    await relay_up.deliver_pending()
    await relay_up.deliver_pending()
    assert received.get(message_id) == 1
    async with sessionmaker() as session:
        attempts = await session.scalar(
            text("SELECT attempts FROM tenants.outbox WHERE id = :id"), {"id": message_id}
        )
    assert attempts == 2


async def _next_attempt_in_seconds(sessionmaker, answer: int) -> tuple[float, str, bool]:  # type: ignore[no-untyped-def]
    """Enqueues one message, lets a peer answering `answer` receive it, reads back its state."""
    message_id = f"msg-{secrets.token_hex(6)}"
    await enqueue_message(sessionmaker, message_id, "sink")
    peer = ServiceClient(
        service_name="test",
        base_urls={"sink": "http://sink"},
        internal_secret=DEVELOPMENT_INTERNAL_SECRET,
        backoff_base=0.001,
        transports={"sink": httpx.MockTransport(lambda request: httpx.Response(answer))},
    )
    relay = OutboxRelay(sessionmaker=sessionmaker, table=outbox, client=peer)
    await relay.deliver_pending()
    async with sessionmaker() as session:
        row = (
            await session.execute(
                text(
                    "SELECT extract(epoch FROM next_attempt_at - now()), last_error, "
                    "delivered_at IS NULL FROM tenants.outbox WHERE id = :id"
                ),
                {"id": message_id},
            )
        ).one()
    return float(row[0]), row[1], row[2]


async def test_a_refused_message_is_kept_and_retried_at_the_slowest_pace(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    wait, error, pending = await _next_attempt_in_seconds(sessionmaker, 422)
    assert pending and error.startswith("refused: HTTP 422")
    assert wait > 200  # the five-minute ceiling, not the first attempt's seconds


async def test_a_busy_peer_is_retried_soon(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    wait, error, pending = await _next_attempt_in_seconds(sessionmaker, 429)
    assert pending and error.startswith("HTTP 429")
    assert wait < 10


async def test_a_message_for_an_unknown_destination_does_not_stop_the_others(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    received: dict[str, int] = {}
    app = receiver_app(received)
    stray, wanted = f"msg-{secrets.token_hex(6)}", f"msg-{secrets.token_hex(6)}"
    await enqueue_message(sessionmaker, stray, "nowhere")
    await enqueue_message(sessionmaker, wanted, "sink")
    up = ServiceClient(
        service_name="test",
        base_urls={"sink": "http://sink"},
        internal_secret=DEVELOPMENT_INTERNAL_SECRET,
        transports={"sink": httpx.ASGITransport(app=app)},
    )
    await OutboxRelay(sessionmaker=sessionmaker, table=outbox, client=up).deliver_pending()
    assert received.get(wanted) == 1
    async with sessionmaker() as session:
        error = await session.scalar(
            text("SELECT last_error FROM tenants.outbox WHERE id = :id"), {"id": stray}
        )
    assert error.startswith("refused: no address")
