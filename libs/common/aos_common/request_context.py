"""Request ids and the per-request context (request id, tenant) that logs and envelopes read."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

request_id_var: ContextVar[str | None] = ContextVar("aos_request_id", default=None)
tenant_id_var: ContextVar[str | None] = ContextVar("aos_tenant_id", default=None)


def new_request_id() -> str:
    return "req-" + secrets.token_hex(6)


def current_request_id() -> str:
    request_id = request_id_var.get()
    if request_id is None:
        request_id = new_request_id()
        request_id_var.set(request_id)
    return request_id


def request_id_of(raw_headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's X-Request-ID when it is a sane token, else a fresh `req-<12 hex>`."""
    for name, value in raw_headers:
        if name == b"x-request-id":
            sent = value.decode("latin-1")
            return sent if _ACCEPTABLE_REQUEST_ID.match(sent) else new_request_id()
    return new_request_id()


class RequestIdMiddleware:
    """Echo a caller's X-Request-ID (when it is a sane token) or mint `req-<12 hex>`, on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope["headers"])
        request_id_token = request_id_var.set(request_id)
        tenant_token = tenant_id_var.set(None)
        scope.setdefault("state", {})["request_id"] = request_id
        encoded = request_id.encode("latin-1")

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", encoded))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            request_id_var.reset(request_id_token)
            tenant_id_var.reset(tenant_token)
