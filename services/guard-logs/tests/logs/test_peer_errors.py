"""A request a peer refuses is the client's error (its 4xx), never a 502 or an empty 200."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import Response

from aos_common.errors import problem_response
from aos_common.http_client import ServiceClient
from aos_common.settings import DEVELOPMENT_INTERNAL_SECRET
from aos_guard_logs.logs.peers import PeerRefused, Peers, UpstreamError

from ..conftest import Platform, new_tenant, reader

LOGS = "/api/v1/guard/logs"


@pytest.mark.parametrize("path", [LOGS, "/api/v1/logs/llm-runs"])
async def test_an_offset_past_the_deepest_page_is_a_422_not_a_502(
    platform: Platform, path: str
) -> None:
    response = await platform.client.get(
        path, params={"offset": 1_000_000_001}, headers=reader(new_tenant())
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "query.offset"


async def test_a_nul_in_a_filter_is_a_400_not_a_502(platform: Platform) -> None:
    response = await platform.client.get(f"{LOGS}?agent_id=%00", headers=reader(new_tenant()))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize("export_format", ["json", "csv", "ndjson"])
async def test_an_export_with_a_nul_filter_is_a_problem_not_an_empty_200(
    platform: Platform, export_format: str
) -> None:
    response = await platform.client.get(
        f"{LOGS}/export?agent_id=%00&format={export_format}", headers=reader(new_tenant())
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "NUL" in response.json()["detail"]


def refusing_traces(status: int, detail: str) -> FastAPI:
    """A traces stand-in that refuses every request with one problem."""
    app = FastAPI()

    @app.get("/internal/v1/traces/logs")
    async def logs() -> Response:
        return problem_response(status, detail, instance="/internal/v1/traces/logs")

    return app


async def trace_logs_from(peer: FastAPI) -> None:
    client = ServiceClient(
        service_name="guard-logs",
        base_urls={"traces": "http://traces"},
        internal_secret=DEVELOPMENT_INTERNAL_SECRET,
        transports={"traces": httpx.ASGITransport(app=peer)},
    )
    try:
        await Peers(client).trace_logs("tnt_a", {}, limit=10, offset=0)
    finally:
        await client.aclose()


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_a_peers_refusal_keeps_its_status_and_sentence(status: int) -> None:
    with pytest.raises(PeerRefused) as refused:
        await trace_logs_from(refusing_traces(status, "agent_id is not a valid filter"))
    assert refused.value.status == status
    assert refused.value.detail == "agent_id is not a valid filter"


async def test_a_peer_refusing_guard_logs_own_credentials_is_a_502() -> None:
    with pytest.raises(UpstreamError):
        await trace_logs_from(refusing_traces(401, "Invalid service context"))
