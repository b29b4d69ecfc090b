"""Per-request wiring of the traces routes: who may do what, on which tenant's data (aos_common.auth's
Caller), and the request helpers they share (the decompressed body, timestamps, the ingest context).

Reads accept `traces:read` (or the generic `read:traces` a default API key carries through
`read:*`); writes need `traces:write`; retention, deletion and resolution need the admin role
(platform operators always pass). The tenant is the credential's; a `tenant_id` query parameter
must equal it unless the caller is an operator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Request

from aos_common.callers import Caller, caller_with_permission, caller_with_role
from aos_common.errors import BadRequest, PayloadTooLarge
from aos_traces.domain.errors import TraceInputError
from aos_traces.domain.otlp import MAX_BODY_BYTES, OtlpDecodeError, OtlpTooLarge, decompress
from aos_traces.domain.timestamps import parse_timestamp
from aos_traces.ingest.service import IngestContext
from aos_traces.state import traces_state

ReaderDep = Annotated[Caller, caller_with_permission("traces:read", "read:traces")]
WriterDep = Annotated[Caller, caller_with_permission("traces:write")]
AdminDep = Annotated[Caller, caller_with_role("admin", detail="Requires admin or operator role")]


async def request_payload(request: Request) -> bytes:
    """The body with its Content-Encoding (gzip, deflate) undone, bounded like OTLP bodies: a
    body that cannot be decompressed is a 400 with a sentence, never an empty success."""
    body = await request.body()
    encoding = request.headers.get("content-encoding")
    if not encoding:
        return body
    try:
        return decompress(body, encoding, MAX_BODY_BYTES)
    except OtlpTooLarge as error:
        raise PayloadTooLarge(str(error)) from error
    except OtlpDecodeError as error:
        raise BadRequest(str(error)) from error


async def json_body(request: Request, *, required: bool = True) -> Any:
    body = await request_payload(request)
    if not body.strip():
        if required:
            raise BadRequest("Request body must be a JSON object")
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadRequest("Request body must be valid JSON") from error


def iso_param(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value, name)
    except TraceInputError as error:
        raise BadRequest(f"{name} must be ISO-8601 UTC") from error


def ingest_context(request: Request) -> IngestContext:
    return app_ingest_context(request.app)


def app_ingest_context(app: FastAPI) -> IngestContext:
    state = traces_state(app)
    context = state.ingest
    if context is None or context.engine is not state.engine:
        context = IngestContext(engine=state.engine)
        state.ingest = context
    return context
