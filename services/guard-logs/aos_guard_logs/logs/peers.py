"""Calls to the services guard-logs reads from: traces, audit-ledger and cost-intel.

Guard-logs never reads another service's tables; everything comes through these internal routes
(docs/API.md), signed as the guard-logs service principal for the tenant being served, so a
key holding only `read:*` can still read its logs. A peer that cannot be reached becomes a 503
problem, a peer answering an unexpected error a 502: neither is the client's fault. A peer that
refuses what the client asked for (a 400/404/409/413/422/429 about the filters passed on) is the
client's error: it is answered with the peer's status and sentence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from aos_common.auth import Principal
from aos_common.errors import ProblemError, ServiceUnavailable
from aos_common.http_client import PeerUnavailable, ServiceClient

TRACES = "traces"
AUDIT = "audit-ledger"
COST = "cost-intel"
# A large export may wait on the database before its first row, and between rows while the client
# reads slowly (back-pressure); the usual 5 s read timeout would cut it.
STREAM_TIMEOUT = httpx.Timeout(120.0, connect=2.0)
# An id the traces service refuses to look up cannot name a trace: the caller sees a 404.
NOT_A_TRACE = frozenset({400, 404, 422})
# A peer's answers about the request itself; 401/403 would mean guard-logs' own context was
# refused, which is no fault of the client's (502).
CLIENT_ERRORS = frozenset({400, 404, 409, 413, 422, 429})


class UpstreamError(ProblemError):
    status = 502


class PeerRefused(ProblemError):
    """The peer refused the client's request: its status and sentence, passed on."""


def _refused(service: str, response: httpx.Response) -> PeerRefused:
    detail = f"{service} refused the request"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        detail = body["detail"]
    headers = (
        {"Retry-After": response.headers["retry-after"]}
        if "retry-after" in response.headers
        else None
    )
    return PeerRefused(detail, status=response.status_code, headers=headers)


def _unavailable(service: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"Upstream {service} unavailable", headers={"Retry-After": "5"})


def _checked(service: str, response: httpx.Response) -> Any:
    if response.status_code >= 500:
        raise _unavailable(service)
    if response.status_code in CLIENT_ERRORS:
        raise _refused(service, response)
    if response.status_code >= 300:
        raise UpstreamError(f"Upstream {service} answered {response.status_code}")
    return response.json()


class Peers:
    def __init__(self, http: ServiceClient) -> None:
        self._http = http

    async def _get(
        self, service: str, path: str, tenant_id: str, params: Mapping[str, Any]
    ) -> httpx.Response:
        try:
            return await self._http.request(
                service, "GET", path, tenant_id=tenant_id, params={**params, "tenant_id": tenant_id}
            )
        except PeerUnavailable as error:
            raise _unavailable(service) from error

    async def trace_logs(
        self, tenant_id: str, filters: Mapping[str, str], *, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of trace summaries and the filtered total."""
        response = await self._get(
            TRACES,
            "/internal/v1/traces/logs",
            tenant_id,
            {**filters, "limit": limit, "offset": offset},
        )
        body = _checked(TRACES, response)
        return list(body.get("items") or []), int(body.get("total") or 0)

    @asynccontextmanager
    async def trace_log_stream(
        self, tenant_id: str, filters: Mapping[str, str], *, limit: int
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Trace summaries one at a time from the traces NDJSON stream (never the whole result).

        The upstream status is checked before the caller starts its own response, so an outage
        is a clean 503 rather than a truncated 200.
        """
        client = self._http.client_for(TRACES)
        request = client.build_request(
            "GET",
            "/internal/v1/traces/logs/stream",
            params={**filters, "limit": limit, "tenant_id": tenant_id},
            headers=self._http.headers_for(None, tenant_id),
            timeout=STREAM_TIMEOUT,
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.TransportError as error:
            raise _unavailable(TRACES) from error
        try:
            if response.status_code >= 300:
                await response.aread()
                _checked(TRACES, response)
            yield _ndjson_rows(response)
        finally:
            await response.aclose()

    async def trace(self, tenant_id: str, run_id: str) -> dict[str, Any] | None:
        """The full trace document (looked up by trace id, then run id), or None."""
        response = await self._get(TRACES, f"/internal/v1/traces/{_segment(run_id)}", tenant_id, {})
        if response.status_code in NOT_A_TRACE:
            return None
        return dict(_checked(TRACES, response))

    async def integrity(self, tenant_id: str, trace_id: str) -> dict[str, Any]:
        response = await self._get(
            TRACES, f"/internal/v1/traces/{_segment(trace_id)}/integrity", tenant_id, {}
        )
        return dict(_checked(TRACES, response))

    async def audit_entries(self, tenant_id: str, entity_id: str, *, limit: int) -> dict[str, Any]:
        """`{tree_head, entries:[entry + proof]}` for one entity, proofs against that tree head."""
        response = await self._get(
            AUDIT, "/internal/v1/audit/entries", tenant_id, {"entity_id": entity_id, "limit": limit}
        )
        return dict(_checked(AUDIT, response))

    async def run_costs(self, tenant_id: str, run_id: str) -> dict[str, Any]:
        response = await self._get(
            COST, f"/internal/v1/cost/runs/{_segment(run_id)}", tenant_id, {}
        )
        if response.status_code == 404:
            return {"run_id": run_id, "records": [], "total_cost_cents": 0}
        return dict(_checked(COST, response))

    async def audit_page(self, principal: Principal, params: Mapping[str, Any]) -> httpx.Response:
        """The public ledger page, asked on behalf of the caller (audit-ledger checks its scope)."""
        try:
            return await self._http.request(
                AUDIT, "GET", "/api/v1/audit/entries", principal=principal, params=params
            )
        except PeerUnavailable as error:
            raise _unavailable(AUDIT) from error


async def _ndjson_rows(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Parse NDJSON straight from the byte stream (orjson reads bytes; no text decoding)."""
    pending = b""
    async for chunk in response.aiter_bytes():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield orjson.loads(line)
    if pending.strip():
        yield orjson.loads(pending)


def _segment(value: str) -> str:
    """A path segment, percent-encoded, so an id can never change the route it is sent to."""
    return quote(value, safe="")
