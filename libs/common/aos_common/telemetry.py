"""OpenTelemetry for the platform itself, and JSON logs carrying request, tenant and trace ids."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from aos_common.request_context import request_id_var, tenant_id_var

_provider_installed = False
_clients_instrumented = False


def setup_tracing(service_name: str, otlp_endpoint: str | None) -> None:
    """Install a tracer provider once per process; export OTLP only when an endpoint is set."""
    global _provider_installed
    if _provider_installed:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"aos-{service_name}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces"))
        )
    trace.set_tracer_provider(provider)
    _provider_installed = True


FASTAPI_NATIVE_TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's own OpenTelemetry layer (0.16x), off in every app: the services trace through
opentelemetry-instrumentation-fastapi (`instrument_app`), and left on, the layer asks the global
tracer, meter and logger providers whether they are configured on every request, a cost with
nothing to show for it."""


def instrument_app(app: FastAPI) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")


def instrument_clients() -> None:
    """Instrument SQLAlchemy engines created from now on, httpx and Redis (once per process)."""
    global _clients_instrumented
    if _clients_instrumented:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()
    RedisInstrumentor().instrument()
    _clients_instrumented = True


UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def _access_fields(record: logging.LogRecord) -> dict[str, Any] | None:
    """uvicorn's access record `(client, method, path, http version, status)` as fields. The
    query string is left out: it is the one part of a request line a caller may put a secret in."""
    if record.name != "uvicorn.access" or not isinstance(record.args, tuple):
        return None
    if len(record.args) != 5:
        return None
    client, method, full_path, _version, status = record.args
    path = str(full_path).split("?", 1)[0]
    return {
        "message": f"{method} {path} {status}",
        "client": client,
        "method": method,
        "path": path,
        "status": status,
    }


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the request, tenant and trace ids of the request being
    served (uvicorn's access lines included, as fields)."""

    def format(self, record: logging.LogRecord) -> str:
        span_context = trace.get_current_span().get_span_context()
        access = _access_fields(record)
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": access.pop("message") if access else record.getMessage(),
            "request_id": request_id_var.get(),
            "tenant_id": tenant_id_var.get(),
            "trace_id": format(span_context.trace_id, "032x") if span_context.is_valid else None,
        }
        if access:
            entry.update(access)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure_json_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn gives its loggers plain-text handlers of their own: route them through root.
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
