"""The merged OpenAPI document the gateway serves at `/openapi.json`, built at run time.

The gateway image holds no service package, so the document cannot be built in process as
`python -m aos_gateway.openapi` does: each service named in the routing configuration is asked
for its own `/openapi.json` (on a server its health checks see up), the answers are merged by
`aos_gateway.openapi.merge_openapi`, and the result is kept for a short while. A service that does
not answer is left out and named in `info.description` and `info.x-aos-services`, so a reader
knows the document is partial; a partial document is kept for less time, so the missing part
comes back soon after its service does.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from aos_gateway.openapi import merge_openapi
from aos_gateway.proxy.upstream import ServiceRuntime

INCLUDED = "included"
PARTIAL_TTL_SECONDS = 5.0


class MergedDocument:
    """One cached merge, rebuilt on the first request after it has aged past its time to live;
    concurrent requests then wait for that one rebuild instead of each asking every service."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        services: Callable[[], Mapping[str, ServiceRuntime]],
        *,
        version: str,
        ttl_seconds: float,
        fetch_timeout: float = 5.0,
    ) -> None:
        self._client = client
        self._services = services
        self._version = version
        self._ttl = ttl_seconds
        self._fetch_timeout = fetch_timeout
        self._document: dict[str, Any] | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> dict[str, Any]:
        if self._document is not None and time.monotonic() < self._expires:
            return self._document
        async with self._lock:
            if self._document is None or time.monotonic() >= self._expires:
                document, complete = await self._build()
                self._document = document
                ttl = self._ttl if complete else min(self._ttl, PARTIAL_TTL_SECONDS)
                self._expires = time.monotonic() + ttl
            return self._document

    async def _build(self) -> tuple[dict[str, Any], bool]:
        services = dict(self._services())
        answers = await asyncio.gather(*(self._fetch(service) for service in services.values()))
        documents = [
            (name, answer)
            for name, answer in zip(services, answers, strict=True)
            if isinstance(answer, dict)
        ]
        status = {
            name: INCLUDED if isinstance(answer, dict) else answer
            for name, answer in zip(services, answers, strict=True)
        }
        merged = merge_openapi(documents, version=self._version)
        merged["info"]["description"] = _description(status)
        merged["info"]["x-aos-services"] = status
        return merged, all(value == INCLUDED for value in status.values())

    async def _fetch(self, service: ServiceRuntime) -> dict[str, Any] | str:
        """The service's own document, or why it is left out."""
        now = time.monotonic()
        server = next((s for s in service.servers if s.available(now)), None)
        if server is None:
            return "left out: no server of this service is up"
        try:
            response = await self._client.get(
                server.url + "/openapi.json", timeout=self._fetch_timeout
            )
        except httpx.HTTPError as error:
            return f"left out: its document could not be fetched ({type(error).__name__})"
        if response.status_code != 200:
            return f"left out: its document answered HTTP {response.status_code}"
        try:
            document = response.json()
        except ValueError:
            return "left out: its document is not JSON"
        if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
            return "left out: its answer is not an OpenAPI document"
        return document


def _description(status: Mapping[str, str]) -> str:
    included = [name for name, value in status.items() if value == INCLUDED]
    missing = {name: value for name, value in status.items() if value != INCLUDED}
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    lines = [
        "Every public route the gateway serves, merged from the services' own documents "
        f"(fetched {stamp}). Authenticate with `X-AOS-Key` or a bearer token.",
        "",
        "Services included: " + (", ".join(included) if included else "none") + ".",
    ]
    if missing:
        lines += ["", "**This document is partial.** Services left out:"]
        lines += [f"- {name}: {reason}" for name, reason in missing.items()]
    return "\n".join(lines)
