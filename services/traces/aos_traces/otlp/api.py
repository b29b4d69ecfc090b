"""OTLP/HTTP trace ingestion: POST /v1/traces, protobuf or JSON, optionally gzip or deflate
compressed, tenant from the API key.

Failures answer as the OTLP specification prescribes: 400 for a body that cannot be
decompressed or decoded, 413 for one too large, 415 for another content type, with a
`google.rpc.Status` body (protobuf for a protobuf request; for JSON the problem document, which
carries the same `code` and `message` fields beside its own).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from google.protobuf.json_format import MessageToJson
from google.rpc.status_pb2 import Status
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from aos_common.db import SessionDep
from aos_common.errors import ProblemError, problem_response
from aos_traces.dependencies import WriterDep
from aos_traces.otlp.export import JSON, PROTOBUF, ExportError, export

router = APIRouter(tags=["otlp"])
PROTOBUF_TYPE = "application/x-protobuf"
FORMATS = {PROTOBUF_TYPE: PROTOBUF, "application/protobuf": PROTOBUF, "application/json": JSON}


class UnsupportedMediaType(ProblemError):
    status = 415


def _failure(error: ExportError, encoding_format: str, path: str) -> Response:
    if encoding_format == PROTOBUF:
        status = Status(code=error.grpc_code, message=error.message)
        return Response(
            status.SerializeToString(), status_code=error.http_status, media_type=PROTOBUF_TYPE
        )
    return problem_response(
        error.http_status,
        error.message,
        instance=path,
        extra={"code": error.grpc_code, "message": error.message},
    )


class ExportPartialSuccess(BaseModel):
    """Some spans were not stored: how many (an int64, written as a string in OTLP/JSON), why."""

    model_config = ConfigDict(populate_by_name=True)

    rejected_spans: str | None = Field(default=None, alias="rejectedSpans")
    error_message: str | None = Field(default=None, alias="errorMessage")


class ExportTraceServiceResponse(BaseModel):
    """OTLP/JSON `ExportTraceServiceResponse`: `{}` when every span was stored."""

    model_config = ConfigDict(populate_by_name=True)

    partial_success: ExportPartialSuccess | None = Field(default=None, alias="partialSuccess")


# The protobuf answer is the same message in its binary encoding.
PROTOBUF_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {PROTOBUF_TYPE: {"schema": {"type": "string", "format": "binary"}}}}
}


@router.post("/v1/traces", response_model=ExportTraceServiceResponse, responses=PROTOBUF_ANSWER)
async def export_traces(request: Request, caller: WriterDep, session: SessionDep) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    encoding_format = FORMATS.get(content_type)
    if encoding_format is None:
        raise UnsupportedMediaType(
            "Unsupported Content-Type; send application/x-protobuf or application/json"
        )
    body = await request.body()
    try:
        response = await export(
            request.app,
            session,
            caller.tenant_id,
            body,
            encoding_format,
            request.headers.get("content-encoding"),
        )
    except ExportError as error:
        return _failure(error, encoding_format, request.url.path)
    if encoding_format == JSON:
        return Response(MessageToJson(response), media_type="application/json")
    return Response(response.SerializeToString(), media_type=PROTOBUF_TYPE)
