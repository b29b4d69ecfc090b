"""The request and response objects the middleware pipeline passes along.

A middleware is an async function `(request, next) -> response`; the last `next` forwards to the
router's service. Responses keep their body as a stream until the ASGI layer sends it, so nothing on
the way buffers a large export.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from aos_common.auth import Principal
from aos_common.errors import PROBLEM_CONTENT_TYPE, problem_body

UpstreamError = Literal["connect", "timeout", "protocol"]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class Headers:
    """An ordered, case-insensitive multi-map of header names (stored lower case) to values."""

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self.items: list[tuple[str, str]] = items if items is not None else []

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self.items:
            if key == name:
                return value
        return default

    def set(self, name: str, value: str) -> None:
        name = name.lower()
        for key, _ in self.items:
            if key == name:  # rebuilt only when there is something to replace
                self.items = [(k, v) for k, v in self.items if k != name]
                break
        self.items.append((name, value))

    def add(self, name: str, value: str) -> None:
        self.items.append((name.lower(), value))

    def remove(self, name: str) -> None:
        name = name.lower()
        self.items = [(k, v) for k, v in self.items if k != name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def copy(self) -> Headers:
        return Headers(list(self.items))


class Body:
    """The client's request body: streamed once, or buffered when a middleware needs it whole."""

    def __init__(self, receive: Receive, declared_length: int | None, chunked: bool) -> None:
        self._receive = receive
        self.declared_length = declared_length
        self.buffered: bytes | None = b"" if not declared_length and not chunked else None
        self._consumed = False

    @property
    def empty(self) -> bool:
        return self.buffered == b""

    async def read(self, limit: int) -> bytes | None:
        """The whole body, or None as soon as it exceeds `limit` bytes."""
        if self.buffered is not None:
            return self.buffered if len(self.buffered) <= limit else None
        if self.declared_length is not None and self.declared_length > limit:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in self._stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        self.buffered = b"".join(chunks)
        return self.buffered

    def replayable(self) -> bool:
        return self.buffered is not None

    def content(self) -> bytes | AsyncIterator[bytes] | None:
        """What to hand to httpx: the buffer, or the live stream (usable once)."""
        if self.buffered is not None:
            return self.buffered or None
        return self._stream()

    async def _stream(self) -> AsyncIterator[bytes]:
        if self._consumed:
            raise RuntimeError("the request body was already streamed")
        self._consumed = True
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ConnectionError("client disconnected")
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


@dataclass(slots=True)
class PendingCount:
    """A metered request's usage increment (HINCRBY `counter` `field` 1) not yet sent to Redis.

    Forward-auth leaves it on the request so that the next Redis round trip of the request (the
    tenant's rate limit) carries it; whatever no one sent, forward-auth sends when the request is
    done. `state` ends as "counted", or "failed" when Redis could not take it.
    """

    counter: str
    field: str
    state: Literal["pending", "counted", "failed"] = "pending"


@dataclass(slots=True)
class ProxyRequest:
    method: str
    path: str
    query_string: bytes
    headers: Headers
    body: Body
    scheme: str
    host: str
    client_ip: str
    request_id: str
    router: str = ""
    service: str = ""
    principal: Principal | None = None
    budget_checked: bool = False
    usage: PendingCount | None = None
    # The path as the client sent it (percent-encoded), forwarded as is: `path` is its decoded
    # form, for routing and problem documents. Empty when there is none (in-process tests).
    raw_path: str = ""

    @property
    def target_path(self) -> str:
        """The path to send upstream: never re-encoded from the decoded form, so `%3F` stays a
        character of the path instead of becoming the start of a query."""
        return self.raw_path or self.path


@dataclass(slots=True)
class ProxyResponse:
    status: int
    headers: Headers
    body: bytes | AsyncIterator[bytes] = b""
    upstream_error: UpstreamError | None = None
    close: Callable[[], Awaitable[None]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    async def discard(self) -> None:
        """Release an upstream response that will not be sent (e.g. before a retry)."""
        if self.close is not None:
            await self.close()
            self.close = None


Handler = Callable[[ProxyRequest], Awaitable[ProxyResponse]]
Middleware = Callable[[ProxyRequest, Handler], Awaitable[ProxyResponse]]


def problem(
    request: ProxyRequest,
    status: int,
    detail: str,
    *,
    retry_after: float | None = None,
    upstream_error: UpstreamError | None = None,
    extra: dict[str, Any] | None = None,
) -> ProxyResponse:
    """A problem+json response in API.md's shape, built by the gateway itself."""
    body = problem_body(status, detail, instance=request.path, extra=extra)
    body["request_id"] = request.request_id
    headers = Headers([("content-type", PROBLEM_CONTENT_TYPE)])
    if retry_after is not None:
        headers.add("retry-after", str(max(1, math.ceil(retry_after))))
    return ProxyResponse(status, headers, orjson.dumps(body), upstream_error=upstream_error)
