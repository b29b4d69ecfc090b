"""OTLP/gRPC: the collector TraceService/Export method on its own port, started with the app.

The request stays raw bytes (no deserializer) so it takes the same decode path as OTLP/HTTP
protobuf, in a worker thread. Authentication is the HTTP one: the call's metadata is read as
headers (`x-aos-key`, `authorization: Bearer ...`, or a gateway-signed context) by the app's
authenticator, and the key needs `traces:write`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
from fastapi import FastAPI

from aos_common.auth import Principal
from aos_common.db import session_scope
from aos_common.errors import ProblemError
from aos_common.request_context import tenant_id_var
from aos_traces.domain.otlp import MAX_BODY_BYTES
from aos_traces.otlp.export import PROTOBUF, ExportError, export
from aos_traces.state import traces_state

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_session = asynccontextmanager(session_scope)


async def _principal(app: FastAPI, context: grpc.aio.ServicerContext) -> Principal:
    headers = {key.lower(): value for key, value in context.invocation_metadata() or ()}
    try:
        principal = await traces_state(app).authenticator.authenticate(headers)
    except ProblemError as error:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, error.detail)
    if not principal.has_permission("traces:write"):
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, "Requires permission traces:write")
    if principal.tenant_id is None:
        await context.abort(
            grpc.StatusCode.PERMISSION_DENIED, "The credential belongs to no tenant"
        )
    return principal


def _handler(app: FastAPI) -> grpc.GenericRpcHandler:
    async def export_call(body: bytes, context: grpc.aio.ServicerContext) -> bytes:
        principal = await _principal(app, context)
        tenant_id = principal.tenant_id
        assert tenant_id is not None
        tenant_id_var.set(tenant_id)
        try:
            async with _session(traces_state(app).sessionmaker) as session:
                response = await export(
                    app, session, tenant_id, body, PROTOBUF, transport="otlp_grpc"
                )
        except ExportError as error:
            await context.abort(_GRPC_STATUS[error.grpc_code], error.message)
        return response.SerializeToString()

    method = grpc.unary_unary_rpc_method_handler(export_call)
    return grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService", {"Export": method}
    )


_GRPC_STATUS = {status.value[0]: status for status in grpc.StatusCode}


@asynccontextmanager
async def otlp_grpc_server(app: FastAPI) -> AsyncIterator[None]:
    """Serve OTLP/gRPC while the app runs; `otlp_grpc_port` None turns it off, 0 picks a free
    port (published as `traces_state(app).otlp_grpc_port`)."""
    state = traces_state(app)
    settings = state.settings
    if settings.otlp_grpc_port is None:
        state.otlp_grpc_port = None
        yield
        return
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_BODY_BYTES),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ]
    )
    server.add_generic_rpc_handlers([_handler(app)])
    port = server.add_insecure_port(f"{settings.otlp_grpc_host}:{settings.otlp_grpc_port}")
    await server.start()
    state.otlp_grpc_port = port
    try:
        yield
    finally:
        await server.stop(grace=2)
