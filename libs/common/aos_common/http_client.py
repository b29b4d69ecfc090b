"""The service-to-service HTTP client: one pooled httpx client, timeouts, bounded retries with
exponential backoff and full jitter, W3C trace propagation, and a signed context on every call."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

import httpx
from opentelemetry.propagate import inject

from aos_common.auth import Principal, service_principal, sign_context
from aos_common.request_context import request_id_var

RETRYABLE_STATUSES = frozenset({502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class PeerUnavailable(Exception):
    """A peer could not be reached (or kept answering 5xx) after the bounded retries."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service} unavailable: {reason}")
        self.service = service
        self.reason = reason


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Full-jitter exponential backoff (AWS architecture blog): uniform in [0, min(cap, base*2^n)]."""
    return random.uniform(0, min(cap, base * (2**attempt)))


class ServiceClient:
    def __init__(
        self,
        *,
        service_name: str,
        base_urls: Mapping[str, str],
        internal_secret: str,
        timeout: float = 5.0,
        max_attempts: int = 3,
        backoff_base: float = 0.1,
        backoff_cap: float = 2.0,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self.service_name = service_name
        self._base_urls = dict(base_urls)
        self._secret = internal_secret
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        timeouts = httpx.Timeout(timeout, connect=min(timeout, 2.0))
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._clients: dict[str, httpx.AsyncClient] = {}
        for name, url in self._base_urls.items():
            transport = (transports or {}).get(name)
            self._clients[name] = httpx.AsyncClient(
                base_url=url, timeout=timeouts, limits=limits, transport=transport
            )

    def knows(self, service: str) -> bool:
        return service in self._clients

    def client_for(self, service: str) -> httpx.AsyncClient:
        return self._clients[service]

    def headers_for(
        self, principal: Principal | None, tenant_id: str | None = None
    ) -> dict[str, str]:
        acting = principal or service_principal(self.service_name, tenant_id)
        headers = sign_context(acting, self._secret)
        request_id = request_id_var.get()
        if request_id:
            headers["X-Request-ID"] = request_id
        inject(headers)
        return headers

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        principal: Principal | None = None,
        tenant_id: str | None = None,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        read_timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request; retried on connection errors and 502/503/504 when safe to repeat.

        `retry` defaults to True for idempotent methods; a POST is retried only when the caller
        says so (it carries an idempotency key or the receiver de-duplicates by id). After the
        last attempt the peer's answer is returned as it is (even a 503); `PeerUnavailable` means
        no answer at all. `content` is a body already encoded as JSON (sent with its type);
        `read_timeout` replaces the client's timeout for a call known to take long.
        """
        client = self._clients[service]
        extra: dict[str, Any] = {}
        if read_timeout is not None:
            extra["timeout"] = httpx.Timeout(read_timeout, connect=min(read_timeout, 2.0))
        may_retry = retry if retry is not None else method.upper() in IDEMPOTENT_METHODS
        attempts = self._max_attempts if may_retry else 1
        last_error = "no attempt made"
        for attempt in range(attempts):
            request_headers = self.headers_for(principal, tenant_id)
            request_headers.update(headers or {})
            if content is not None:
                request_headers["Content-Type"] = "application/json"
            try:
                response = await client.request(
                    method,
                    path,
                    json=json,
                    content=content,
                    params=params,
                    headers=request_headers,
                    **extra,
                )
            except httpx.TransportError as error:
                last_error = f"{type(error).__name__}: {error}"
            else:
                if response.status_code not in RETRYABLE_STATUSES or attempt == attempts - 1:
                    return response
                last_error = f"HTTP {response.status_code}"
            if attempt < attempts - 1:
                await asyncio.sleep(
                    backoff_delay(attempt, base=self._backoff_base, cap=self._backoff_cap)
                )
        raise PeerUnavailable(service, last_error)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
