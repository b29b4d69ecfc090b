"""OTLP/HTTP trace ingestion: POST /v1/traces, protobuf or JSON, tenant from the API key."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from aos_common import domain_metrics
from aos_common.db import SessionDep
from aos_common.errors import BadRequest, PayloadTooLarge, ProblemError
from aos_traces.audit import kick_relay_after_commit
from aos_traces.dependencies import WriterDep
from aos_traces.domain.errors import TraceInputError
from aos_traces.domain.gc_pause import gc_paused
from aos_traces.domain.otlp import (
    MAX_BODY_BYTES,
    OtlpDecodeError,
    OtlpTooLarge,
    decode_json,
    decode_protobuf,
    decompress,
    group_spans,
)
from aos_traces.http import ingest_context
from aos_traces.otlp import service
from aos_traces.otlp.prepare import PreparedGroup, prepare_groups

router = APIRouter(tags=["otlp"])
PROTOBUF = "application/x-protobuf"


class UnsupportedMediaType(ProblemError):
    status = 415


def _decode(
    body: bytes, content_type: str, encoding: str | None, tenant_id: str, grace: timedelta
) -> list[PreparedGroup]:
    with gc_paused():
        payload = decompress(body, encoding, MAX_BODY_BYTES)
        if content_type == "application/json":
            spans = decode_json(payload)
        else:
            spans = decode_protobuf(payload)
        return prepare_groups(group_spans(spans), tenant_id, grace)


@router.post("/v1/traces")
async def export_traces(request: Request, caller: WriterDep, session: SessionDep) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (PROTOBUF, "application/protobuf", "application/json"):
        raise UnsupportedMediaType(
            "Unsupported Content-Type; send application/x-protobuf or application/json"
        )
    body = await request.body()
    grace = timedelta(seconds=request.app.state.settings.otlp_late_span_grace_seconds)
    with gc_paused():
        try:
            prepared = await run_in_threadpool(
                _decode,
                body,
                content_type,
                request.headers.get("content-encoding"),
                caller.tenant_id,
                grace,
            )
        except OtlpTooLarge as error:
            raise PayloadTooLarge(str(error)) from error
        except OtlpDecodeError as error:
            raise BadRequest(str(error)) from error
        except TraceInputError as error:
            raise BadRequest(error.detail) from error
        result = await service.ingest_groups(
            session, ingest_context(request), prepared, caller.tenant_id, grace
        )
        # Freed while the collector is still paused (see traces.api.store_batch).
        del prepared
    domain_metrics.SPANS_INGESTED.labels("traces", "otlp_http").inc(result.accepted_spans)
    domain_metrics.STEPS_INGESTED.labels("traces", "otlp").inc(result.steps_stored)
    if result.cost_records:
        kick_relay_after_commit(session, request.app)
    response = ExportTraceServiceResponse()
    if result.rejected_spans:
        response.partial_success.rejected_spans = result.rejected_spans
        response.partial_success.error_message = "; ".join(result.errors)[:1000]
    if content_type == "application/json":
        from google.protobuf.json_format import MessageToJson

        return Response(MessageToJson(response), media_type="application/json")
    return Response(response.SerializeToString(), media_type=PROTOBUF)
