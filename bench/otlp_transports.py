"""Spans/s durably stored by the traces service for each OTLP transport, same spans, one run.

The same exports (each 10 traces x 20 spans: a root span and 19 GenAI chat spans that become
steps and cost-record outbox rows) go to one traces service under uvicorn three times, each time
into a tenant of its own: OTLP/HTTP protobuf, OTLP/HTTP JSON with gzip, OTLP/gRPC. An export is
durably stored when its answer arrives (the answer follows the commit), so the rate is spans over
the seconds from the first send to the last answer; the steps stored are counted afterwards to
check nothing was lost. The service's CPU per span is read from its processes.

Usage:
    uv run python bench/otlp_transports.py [--exports 100] [--concurrency 4] [--no-write]

A fresh database is created on the server of --database-url (default: AOS_TEST_DATABASE_URL or
postgresql://postgres@127.0.0.1:5432/postgres) and dropped afterwards. Figures go to the
"otlp_transports" section of docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import os
import platform
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import grpc
import httpx
import orjson
from _support import CpuMeter, free_port, start_uvicorn, write_performance_section
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from aos_common.testing import create_database, drop_database, migrate
from aos_common.testing.support import principal_headers

SECRET = "bench-internal-secret-" + secrets.token_hex(8)
COMMAND = "uv run python bench/otlp_transports.py --exports {exports} --concurrency {concurrency}"
TRACES_PER_EXPORT = 10
SPANS_PER_TRACE = 20
EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _kv(key: str, value: str | int) -> KeyValue:
    any_value = (
        AnyValue(string_value=value) if isinstance(value, str) else AnyValue(int_value=value)
    )
    return KeyValue(key=key, value=any_value)


def build_exports(count: int) -> list[ExportTraceServiceRequest]:
    now_ns = time.time_ns()
    exports = []
    for _ in range(count):
        request = ExportTraceServiceRequest()
        resource = request.resource_spans.add()
        resource.resource.attributes.append(_kv("service.name", "bench-agent"))
        spans = resource.scope_spans.add().spans
        for _ in range(TRACES_PER_EXPORT):
            trace_id, root_id = secrets.token_bytes(16), secrets.token_bytes(8)
            for index in range(SPANS_PER_TRACE - 1):
                start = now_ns - 60_000_000_000 + index * 1_000_000
                spans.append(
                    Span(
                        trace_id=trace_id,
                        span_id=secrets.token_bytes(8),
                        parent_span_id=root_id,
                        name="chat gpt-4o-mini",
                        start_time_unix_nano=start,
                        end_time_unix_nano=start + 800_000,
                        attributes=[
                            _kv("gen_ai.operation.name", "chat"),
                            _kv("gen_ai.provider.name", "openai"),
                            _kv("gen_ai.request.model", "gpt-4o-mini"),
                            _kv("gen_ai.usage.input_tokens", 300 + index),
                            _kv("gen_ai.usage.cache_read.input_tokens", 128),
                            _kv("gen_ai.usage.output_tokens", 40),
                        ],
                    )
                )
            spans.append(
                Span(
                    trace_id=trace_id,
                    span_id=root_id,
                    name="agent run",
                    start_time_unix_nano=now_ns - 61_000_000_000,
                    end_time_unix_nano=now_ns - 1_000_000_000,
                )
            )
        exports.append(request)
    return exports


def otlp_json(request: ExportTraceServiceRequest) -> bytes:
    document = MessageToDict(request)
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return orjson.dumps(document)


async def run_all(sends: list[Callable[[], Awaitable[None]]], concurrency: int) -> float:
    queue: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
    for send in sends:
        queue.put_nowait(send)

    async def worker() -> None:
        while not queue.empty():
            await queue.get_nowait()()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def headers_for(tenant_id: str) -> dict[str, str]:
    return principal_headers(tenant_id, roles=["admin"], secret=SECRET)


async def http_sends(
    client: httpx.AsyncClient, bodies: list[bytes], tenant_id: str, extra: dict[str, str]
) -> list[Callable[[], Awaitable[None]]]:
    headers = {**headers_for(tenant_id), **extra}

    def send(body: bytes) -> Callable[[], Awaitable[None]]:
        async def post() -> None:
            answer = await client.post("/v1/traces", content=body, headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(f"/v1/traces answered {answer.status_code}: {answer.text}")

        return post

    return [send(body) for body in bodies]


async def count_steps(database_url: str, tenant_id: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM traces.trace_steps WHERE tenant_id = $1", tenant_id
            )
        )
    finally:
        await connection.close()


async def measure(database_url: str, exports: int, concurrency: int) -> list[dict[str, float]]:
    requests = build_exports(exports)
    protobuf = [request.SerializeToString() for request in requests]
    json_gzip = [gzip.compress(otlp_json(request)) for request in requests]
    spans = exports * TRACES_PER_EXPORT * SPANS_PER_TRACE
    port, grpc_port = free_port(), free_port()
    env = {
        **os.environ,
        "AOS_DATABASE_URL": database_url,
        "AOS_REDIS_URL": os.environ.get("AOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "AOS_ENVIRONMENT": "test",
        "AOS_TELEMETRY_ENABLED": "false",
        "AOS_INTERNAL_SECRET": SECRET,
        "AOS_COST_INTEL_URL": "http://127.0.0.1:9",
        "AOS_OUTBOX_INTERVAL_SECONDS": "3600",
        "AOS_OTLP_GRPC_PORT": str(grpc_port),
    }
    server = start_uvicorn("aos_traces.main:create_app", env, port, 1, "traces")
    meter = CpuMeter(server.pid, database_url.rsplit("/", 1)[1])
    rows = []
    try:
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300) as client,
            grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel,
        ):
            export_call = channel.unary_unary(EXPORT_METHOD)
            # Warm-up (partitions, caches, first connections) outside the measured runs.
            warm = [protobuf[0], json_gzip[0]]
            for body, content_type, extra in (
                (warm[0], "application/x-protobuf", {}),
                (warm[1], "application/json", {"content-encoding": "gzip"}),
            ):
                tenant_id = "tnt_bench_warm_" + secrets.token_hex(6)
                for send in await http_sends(
                    client, [body], tenant_id, {"content-type": content_type, **extra}
                ):
                    await send()
            warm_metadata = tuple(
                (k.lower(), v) for k, v in headers_for("tnt_bench_warm_grpc").items()
            )
            await export_call(protobuf[0], metadata=warm_metadata, timeout=300)
            for name in ("OTLP/HTTP protobuf", "OTLP/HTTP JSON + gzip", "OTLP/gRPC"):
                tenant_id = "tnt_bench_" + secrets.token_hex(6)
                if name == "OTLP/HTTP protobuf":
                    sends = await http_sends(
                        client, protobuf, tenant_id, {"content-type": "application/x-protobuf"}
                    )
                elif name.startswith("OTLP/HTTP JSON"):
                    sends = await http_sends(
                        client,
                        json_gzip,
                        tenant_id,
                        {"content-type": "application/json", "content-encoding": "gzip"},
                    )
                else:
                    metadata = tuple((k.lower(), v) for k, v in headers_for(tenant_id).items())

                    def grpc_send(body: bytes, metadata=metadata) -> Callable[[], Awaitable[None]]:
                        async def call() -> None:
                            await export_call(body, metadata=metadata, timeout=300)

                        return call

                    sends = [grpc_send(body) for body in protobuf]
                cpu_before = meter.service()
                pg_before = meter.postgres()
                seconds = await run_all(sends, concurrency)
                service_cpu = meter.service() - cpu_before
                postgres_cpu = meter.postgres() - pg_before
                stored = await count_steps(database_url, tenant_id)
                expected = exports * TRACES_PER_EXPORT * (SPANS_PER_TRACE - 1)
                if stored != expected:
                    raise RuntimeError(f"{name}: {stored} steps stored, {expected} expected")
                rows.append(
                    {
                        "name": name,
                        "seconds": seconds,
                        "spans_per_s": spans / seconds,
                        "service_us_per_span": service_cpu / spans * 1e6,
                        "postgres_us_per_span": postgres_cpu / spans * 1e6,
                        "bytes": sum(len(b) for b in (json_gzip if "JSON" in name else protobuf)),
                    }
                )
                print(f"{name}: {spans / seconds:,.0f} spans/s")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rows


def section(rows: list[dict[str, float]], exports: int, concurrency: int) -> str:
    spans = exports * TRACES_PER_EXPORT * SPANS_PER_TRACE
    lines = [
        "## otlp_transports",
        "",
        f"`{COMMAND.format(exports=exports, concurrency=concurrency)}` — "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other work, load average "
        f"{os.getloadavg()[0]:.1f}, traces under uvicorn with one worker.",
        "",
        f"The same {spans:,} spans ({exports} exports of {TRACES_PER_EXPORT} traces x "
        f"{SPANS_PER_TRACE} spans, {SPANS_PER_TRACE - 1} GenAI chat spans per trace becoming steps "
        f"and cost-record outbox rows) through each transport into a tenant of its own, "
        f"{concurrency} exports in flight; a span counts as stored when its export's answer "
        "arrived (after the commit), and the steps stored were counted afterwards. One export per "
        "transport is sent first, unmeasured, to warm the service up.",
        "",
        "| transport | body bytes | seconds | spans/s stored | service CPU / span "
        "| PostgreSQL CPU / span |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['name']} | {row['bytes']:,.0f} | {row['seconds']:.2f} "
            f"| {row['spans_per_s']:,.0f} | {row['service_us_per_span']:.1f} µs "
            f"| {row['postgres_us_per_span']:.1f} µs |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--exports", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "AOS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--no-write", action="store_true")
    arguments = parser.parse_args()
    database_url = create_database(arguments.database_url)
    try:
        migrate("aos_traces", database_url)
        rows = asyncio.run(measure(database_url, arguments.exports, arguments.concurrency))
    finally:
        drop_database(database_url)
    text = section(rows, arguments.exports, arguments.concurrency)
    print(text)
    if not arguments.no_write:
        write_performance_section(text)


if __name__ == "__main__":
    main()
