"""One OTLP trace export, whatever carried it (OTLP/HTTP protobuf or JSON, OTLP/gRPC): decode
off the event loop, store in one transaction, answer with the rejected-span count.

Errors are exceptions carrying both the HTTP status and the gRPC status code the OTLP
specification prescribes for them, so each transport answers the same failure the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from aos_common import domain_metrics
from aos_common.audit_outbox import kick_outbox_after_commit
from aos_traces.dependencies import app_ingest_context
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
from aos_traces.otlp import service
from aos_traces.otlp.prepare import PreparedGroup, prepare_groups
from aos_traces.state import traces_state

PROTOBUF = "protobuf"
JSON = "json"
# google.rpc.Code values.
GRPC_INVALID_ARGUMENT = 3
GRPC_RESOURCE_EXHAUSTED = 8


class ExportError(Exception):
    """An export that cannot be stored at all; nothing of it was written."""

    http_status = 400
    grpc_code = GRPC_INVALID_ARGUMENT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ExportTooLarge(ExportError):
    http_status = 413
    grpc_code = GRPC_RESOURCE_EXHAUSTED


@dataclass
class DecodedExport:
    groups: list[PreparedGroup]
    invalid_spans: int


def decode_export(
    body: bytes,
    encoding_format: str,
    content_encoding: str | None,
    tenant_id: str,
    grace: timedelta,
) -> DecodedExport:
    """Pure and CPU-bound (a worker thread runs it): decompress, decode, group, map."""
    with gc_paused():
        try:
            payload = decompress(body, content_encoding, MAX_BODY_BYTES)
            spans = decode_json(payload) if encoding_format == JSON else decode_protobuf(payload)
            groups, invalid = group_spans(spans)
            return DecodedExport(prepare_groups(groups, tenant_id, grace), invalid)
        except OtlpTooLarge as error:
            raise ExportTooLarge(str(error)) from error
        except OtlpDecodeError as error:
            raise ExportError(str(error)) from error
        except TraceInputError as error:
            raise ExportError(error.detail) from error


def grace_of(app: FastAPI) -> timedelta:
    return timedelta(seconds=traces_state(app).settings.otlp_late_span_grace_seconds)


async def export(
    app: FastAPI,
    session: AsyncSession,
    tenant_id: str,
    body: bytes,
    encoding_format: str,
    content_encoding: str | None = None,
    *,
    transport: str = "otlp_http",
) -> ExportTraceServiceResponse:
    grace = grace_of(app)
    with gc_paused():
        decoded = await run_in_threadpool(
            decode_export, body, encoding_format, content_encoding, tenant_id, grace
        )
        result = await service.ingest_groups(
            session, app_ingest_context(app), decoded.groups, tenant_id, grace
        )
        # Freed while the collector is still paused (see traces.api.store_batch).
        del decoded.groups
    domain_metrics.SPANS_INGESTED.labels("traces", transport).inc(result.accepted_spans)
    domain_metrics.STEPS_INGESTED.labels("traces", "otlp").inc(result.steps_stored)
    if result.cost_records:
        kick_outbox_after_commit(app, session)
    return answer(decoded.invalid_spans, result.rejected_spans, result.errors)


def answer(invalid: int, rejected: int, errors: list[str]) -> ExportTraceServiceResponse:
    """The OTLP answer: `partial_success` only when some spans were not stored, with a message
    that says which and what to change."""
    response = ExportTraceServiceResponse()
    messages = list(errors)
    if invalid:
        messages.append(
            f"{invalid} span(s) had no trace id or span id and were not stored; every span "
            "needs a non-zero 16-byte trace_id and an 8-byte span_id"
        )
    if invalid + rejected:
        response.partial_success.rejected_spans = invalid + rejected
        response.partial_success.error_message = "; ".join(messages)[:1000]
    return response
