"""What every service port refuses before a route sees the request: the one set of input limits.

Routes and schemas are many and each can forget a check; these limits hold for all of them, on
the raw request, before anything parses it:

- a body over `MAX_BODY_BYTES` (ingest routes: `INGEST_MAX_BODY_BYTES`) is a 413, the same limits
  the gateway's `body-limit` and `body-limit-ingest` middlewares apply (gateway/dynamic.yml);
- a JSON body nested deeper than `MAX_JSON_DEPTH`, holding an integer outside the signed 64-bit
  range (what a BIGINT holds and orjson writes back), a number of that magnitude or more (jsonb
  writes 1e20 back as a 21-digit integer), a non-finite number or a lone surrogate is
  a 422 with a sentence: what a service stores it must be able to read back, so a value that
  could not be read is refused when written (NUL characters inside JSON strings are left to each
  service: PostgreSQL refuses them, and the traces ingest replaces them on purpose);
- a NUL (`%00`) in the path or query string is a 400 (PostgreSQL cannot compare text with it).

A body that is not JSON at all is left to the route, whose own parsing answers 422.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aos_common.bounds import INT64_MAX, INT64_MIN
from aos_common.errors import problem_response

MAX_BODY_BYTES = 10 * 1024 * 1024
INGEST_MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 64

# A literal of 19 or more digits, or with an exponent, may reach 2^63; others cannot. (Hex ids
# such as trace ids hold "0e0" inside a word and do not count.)
_LARGE_NUMBER = re.compile(rb"\d{19,}|(?<![\w.])\d+(?:\.\d+)?[eE]\+?\d")
_NUL_IN_URL = re.compile(rb"%00|\x00")


class InputRefused(Exception):
    """A request refused at the edge, with the status and the sentence its problem carries."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def check_json_body(body: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise InputRefused if a JSON document holds something no service can store and read back.

    Returns quietly for a body that is not JSON: the route's own parsing says so (422).
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        _refuse_unparseable(body, str(error), max_depth)
        return
    if body.count(b"[") + body.count(b"{") > max_depth:
        _check_depth(document, max_depth)
    if _LARGE_NUMBER.search(body):
        _check_numbers(body)


def _refuse_unparseable(body: bytes, reason: str, max_depth: int) -> None:
    """orjson refused the body: say why if Python's parser (the one routes use) would accept it."""
    if "depth" in reason:
        raise InputRefused(422, _too_deep(max_depth))
    if "surrogate" in reason:
        raise InputRefused(422, LONE_SURROGATE)
    if "infinity" in reason:
        raise InputRefused(422, OUT_OF_RANGE)
    try:
        json.loads(body)
    except RecursionError:
        raise InputRefused(422, _too_deep(max_depth)) from None
    except ValueError:
        return
    raise InputRefused(422, f"The request body is not valid JSON ({reason})")


LONE_SURROGATE = "Text in the request must be valid Unicode (it holds a lone surrogate)"
OUT_OF_RANGE = (
    "A number in the request is out of range "
    f"(numbers must lie between {INT64_MIN} and {INT64_MAX})"
)


def _too_deep(max_depth: int) -> str:
    return f"The request body is nested too deeply (at most {max_depth} levels of objects/arrays)"


def _check_depth(document: Any, max_depth: int) -> None:
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > max_depth:
            raise InputRefused(422, _too_deep(max_depth))
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _bounded_int(literal: str) -> int:
    value = int(literal)
    if not INT64_MIN <= value <= INT64_MAX:
        raise InputRefused(422, OUT_OF_RANGE)
    return value


def _bounded_float(literal: str) -> float:
    """A float of magnitude 2^63 or more is integral, and PostgreSQL's jsonb writes it back as an
    integer literal (1e20 -> 100000000000000000000) that no int64 reader can take."""
    value = float(literal)
    if not INT64_MIN < value < INT64_MAX:
        raise InputRefused(422, OUT_OF_RANGE)
    return value


def _check_numbers(body: bytes) -> None:
    """Exact check with Python's parser (orjson reads such literals as floats, losing the fact)."""
    json.loads(body, parse_int=_bounded_int, parse_float=_bounded_float)


def _is_plain_json(headers: list[tuple[bytes, bytes]]) -> bool:
    """JSON as FastAPI decides (no content type, application/json, application/*+json), and not
    compressed: a route reading a Content-Encoding decodes (and bounds) the body itself."""
    for name, value in headers:
        if name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            return False
    for name, value in headers:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json")
            )
    return True


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class InputLimitMiddleware:
    """Applies the limits above to every HTTP request of a service port (see the module doc).

    `body_limits` maps exact paths (ingest routes) to a larger body limit than `max_body_bytes`.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        body_limits: Mapping[str, int] | None = None,
        max_json_depth: int = MAX_JSON_DEPTH,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_limits = dict(body_limits or {})
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_url(scope)
            body = await self._read_body(scope, receive)
            if body and _is_plain_json(scope["headers"]):
                check_json_body(body, max_depth=self.max_json_depth)
        except InputRefused as refusal:
            errors = [{"field": "body", "message": refusal.detail}] if refusal.status == 422 else []
            response = problem_response(
                refusal.status,
                refusal.detail,
                instance=scope.get("path", ""),
                extra={"errors": errors} if errors else None,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _check_url(self, scope: Scope) -> None:
        raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogatepass")
        if _NUL_IN_URL.search(raw_path) or _NUL_IN_URL.search(scope.get("query_string", b"")):
            raise InputRefused(400, "The URL must not contain NUL (%00) characters")

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.body_limits.get(scope.get("path", ""), self.max_body_bytes)
        declared = _declared_length(scope["headers"])
        if declared is not None and declared > limit:
            raise InputRefused(413, _too_large(limit))
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise InputRefused(413, _too_large(limit))
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _too_large(limit: int) -> str:
    return f"Request body exceeds the limit of {limit} bytes"


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the buffered body over once, then listens to the client again."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
