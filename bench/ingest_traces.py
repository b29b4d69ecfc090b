"""Trace ingestion throughput of the traces service: steps/s and spans/s into PostgreSQL.

Three measurements in one run:
1. bulk: `POST /api/v1/traces/batch` (JSON array, 100 traces x 50 steps per call), i.e. parse,
   validate, hash (schema-1.1 root hash), redact, then one transaction with COPY for the steps;
2. OTLP: `POST /v1/traces` with ExportTraceServiceRequest protobufs (100 traces x 20 spans per
   call: one root span and 19 gen_ai chat spans, each becoming a step and a cost-record outbox
   row);
3. peer: asyncpg `copy_records_to_table` of the same number of ready-made step rows straight into
   `traces.trace_steps` (no HTTP, no validation, no hashing): the floor the service sits on.

The service runs under uvicorn in its own processes (two workers by default, one per core); the
client sends pre-serialised bodies with `--concurrency` requests in flight. cost-intel is not
running, so cost records stay in the outbox (the relay retries them in the background, as it
would during an outage).

Usage:
    uv run python bench/ingest_traces.py [--steps 100000] [--concurrency 4] [--workers 2] [--no-write]

A fresh database is created on the server of --database-url (default: AOS_TEST_DATABASE_URL or
postgresql://postgres@127.0.0.1:5432/postgres) and dropped afterwards. Figures go to the
"ingest_traces" section of docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import orjson
from _support import CpuMeter, start_uvicorn, write_performance_section
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aos_common.testing import create_database, drop_database, migrate
from aos_common.testing.servers import free_port
from aos_common.testing.support import principal_headers

ROOT = Path(__file__).resolve().parent.parent
PERFORMANCE = ROOT / "docs" / "PERFORMANCE.md"
SECRET = "bench-internal-secret-" + secrets.token_hex(8)
COMMAND = (
    "uv run python bench/ingest_traces.py --steps {steps} --concurrency {concurrency}"
    " --workers {workers}"
)
STEPS_PER_TRACE = 50
TRACES_PER_BATCH = 100
SPANS_PER_TRACE = 20
TRACES_PER_EXPORT = 100


@dataclass
class Figure:
    name: str
    units: int
    unit: str
    seconds: float
    requests: int
    steps: int
    service_cpu: float | None = None
    postgres_cpu: float | None = None
    client_cpu: float | None = None

    @property
    def rate(self) -> float:
        return self.units / self.seconds

    @property
    def steps_rate(self) -> float:
        return self.steps / self.seconds

    def cpu_text(self, seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds / self.units * 1e6:.1f} µs"


def batch_bodies(total_steps: int) -> list[bytes]:
    now = datetime.now(UTC)
    per_batch = STEPS_PER_TRACE * TRACES_PER_BATCH
    bodies = []
    for batch in range(max(total_steps // per_batch, 1)):
        traces = []
        for number in range(TRACES_PER_BATCH):
            run_id = f"run_{batch:05d}{number:05d}{secrets.token_hex(3)}"
            started = now - timedelta(seconds=batch * 100 + number)
            traces.append(
                {
                    "run_id": run_id,
                    "agent_id": f"agent-{number % 7}",
                    "seed": 42,
                    "frozen_timestamp": started.isoformat(),
                    "started_at": started.isoformat(),
                    "completed_at": (started + timedelta(seconds=5)).isoformat(),
                    "status": "completed",
                    "plan": [{"skill": "search"}, {"skill": "llm.chat"}],
                    "metadata": {"customer": "user@example.com", "region": "eu-west-1"},
                    "steps": [
                        {
                            "step_index": index,
                            "skill_id": "llm.chat" if index % 2 else "http.get",
                            "skill_name": "Chat" if index % 2 else "Fetch",
                            "params": {
                                "q": f"question {index}",
                                "max_tokens": 256,
                                "api_key": "sk-secret",
                            },
                            "status": "retry" if index % 17 == 0 else "success",
                            "outcome_category": "success",
                            "outcome_data": {"answer": f"text {index}", "tokens": 120},
                            "cost_cents": 0.25,
                            "duration_ms": 40 + index,
                            "timestamp": (started + timedelta(milliseconds=index)).isoformat(),
                            "idempotency_key": f"{run_id}:{index}",
                        }
                        for index in range(STEPS_PER_TRACE)
                    ],
                }
            )
        bodies.append(orjson.dumps(traces))
    return bodies


def _kv(key: str, value: str | int) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    return KeyValue(key=key, value=AnyValue(int_value=value))


def otlp_bodies(total_spans: int) -> list[bytes]:
    now_ns = time.time_ns()
    per_export = SPANS_PER_TRACE * TRACES_PER_EXPORT
    bodies = []
    for _ in range(max(total_spans // per_export, 1)):
        request = ExportTraceServiceRequest()
        resource = request.resource_spans.add()
        resource.resource.attributes.append(_kv("service.name", "bench-agent"))
        spans = resource.scope_spans.add().spans
        for _ in range(TRACES_PER_EXPORT):
            trace_id = secrets.token_bytes(16)
            root_id = secrets.token_bytes(8)
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
        bodies.append(request.SerializeToString())
    return bodies


def start_server(
    database_url: str, redis_url: str, port: int, workers: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AOS_DATABASE_URL": database_url,
        "AOS_REDIS_URL": redis_url,
        "AOS_ENVIRONMENT": "test",
        "AOS_TELEMETRY_ENABLED": "false",
        "AOS_INTERNAL_SECRET": SECRET,
        "AOS_COST_INTEL_URL": "http://127.0.0.1:9",
        "AOS_OUTBOX_INTERVAL_SECONDS": "3600",
    }
    return start_uvicorn("aos_traces.main:create_app", env, port, workers, "traces")


async def post_all(
    url: str,
    path: str,
    bodies: list[bytes],
    content_type: str,
    tenant_id: str,
    concurrency: int,
    progress: Progress,
    label: str,
) -> tuple[float, list[httpx.Response]]:
    task = progress.add_task(label, total=len(bodies))
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    responses: list[httpx.Response] = []

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            headers = {
                **principal_headers(tenant_id, roles=["admin"], secret=SECRET),
                "content-type": content_type,
            }
            response = await client.post(path, content=body, headers=headers)
            if response.status_code >= 300:
                raise RuntimeError(f"{path} answered {response.status_code}: {response.text}")
            responses.append(response)
            progress.advance(task)

    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - started, responses


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


async def copy_peer(database_url: str, steps: int, meter: CpuMeter) -> tuple[float, float]:
    """Seconds and PostgreSQL CPU seconds to COPY `steps` ready-made rows."""
    tenant_id = "tnt_bench_copy_peer"
    now = datetime.now(UTC)
    params = orjson.dumps({"q": "question", "max_tokens": 256}).decode()
    output = orjson.dumps({"answer": "text", "tokens": 120}).decode()
    records = [
        (
            tenant_id,
            f"trace_{i // STEPS_PER_TRACE:016x}",
            i % STEPS_PER_TRACE,
            now - timedelta(milliseconds=i),
            "llm.chat",
            "Chat",
            params,
            "success",
            "success",
            None,
            output,
            0.25,
            40.0,
            0,
            "engine",
            "INFO",
            "0123456789abcdef",
            "fedcba9876543210",
            None,
            f"key-{i}",
            "execute",
            None,
        )
        for i in range(steps)
    ]
    from aos_traces.ingest.repository import STEP_COLUMNS

    connection = await asyncpg.connect(database_url)
    try:
        started, mark = time.perf_counter(), meter.postgres()
        async with connection.transaction():
            for offset in range(0, steps, 5_000):
                await connection.copy_records_to_table(
                    "trace_steps",
                    schema_name="traces",
                    columns=STEP_COLUMNS,
                    records=records[offset : offset + 5_000],
                )
        return time.perf_counter() - started, meter.postgres() - mark
    finally:
        await connection.close()


def render(figures: list[Figure], args: argparse.Namespace) -> str:
    lines = [
        "## ingest_traces",
        "",
        f"Command: `{COMMAND.format(steps=args.steps, concurrency=args.concurrency, workers=args.workers)}` "
        f"({datetime.now(UTC):%Y-%m-%d}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores shared with other work; the "
        "service under uvicorn in its own process(es); PostgreSQL and Redis on the same machine; "
        f"load average {os.getloadavg()[0]:.1f} when the run ended).",
        "",
        "| path | units | per call | seconds | units/s | steps/s | service CPU / unit "
        "| PostgreSQL CPU / unit | client CPU / unit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for figure in figures:
        per_call = f"{figure.units // max(figure.requests, 1):,}" if figure.requests else "-"
        lines.append(
            f"| {figure.name} | {figure.units:,} {figure.unit} | {per_call} | "
            f"{figure.seconds:.2f} | {figure.rate:,.0f} | {figure.steps_rate:,.0f} | "
            f"{figure.cpu_text(figure.service_cpu)} | {figure.cpu_text(figure.postgres_cpu)} | "
            f"{figure.cpu_text(figure.client_cpu)} |"
        )
    lines += [
        "",
        "Bulk bodies are JSON arrays of 100 traces x 50 steps (params, outcome data and metadata "
        "carry values the redactor replaces). OTLP bodies are protobuf exports of 100 traces x "
        "20 spans (19 gen_ai chat spans become steps and cost-record outbox rows, the root span "
        "completes the trace). The COPY peer writes ready-made rows with no HTTP, validation, "
        "hashing or redaction. Target: >= 20,000 steps/s through `/api/v1/traces/batch`.",
        "",
        "The CPU columns are CPU seconds per unit over the same interval: the service processes "
        "(uvicorn and its workers), the PostgreSQL backends serving the bench database, and the "
        "load generator (PostgreSQL's WAL writer and checkpointer are not counted). They depend "
        "much less than the wall-clock rates on what else the shared machine is doing.",
        "",
    ]
    batch = next((f for f in figures if f.name.startswith("POST /api/v1/traces/batch")), None)
    peer = next((f for f in figures if f.name.startswith("peer")), None)
    if batch is not None and peer is not None:
        verdict = "met" if batch.steps_rate >= 20_000 else "not met"
        lines += [
            f"In this run the batch path reached {batch.steps_rate / peer.steps_rate:.0%} of the "
            f"COPY peer and the 20,000 steps/s target was **{verdict}** (CPU shared with the "
            "client, PostgreSQL and other work; see the load average above).",
            "",
        ]
    spent = [] if batch is None else [batch.service_cpu, batch.postgres_cpu, batch.client_cpu]
    if batch is not None and batch.steps and all(value is not None for value in spent):
        per_step = sum(value for value in spent if value is not None) / batch.steps
        lines += [
            f"All three together spent {per_step * 1e6:.1f} µs of CPU per stored step, so two "
            f"cores given to this work alone would bound the batch path at about "
            f"{2 / per_step:,.0f} steps/s.",
            "",
        ]
    return "\n".join(lines)


async def run(args: argparse.Namespace, database_url: str, console: Console) -> list[Figure]:
    console.print("building request bodies ...")
    bulk = batch_bodies(args.steps)
    otlp = otlp_bodies(args.steps)
    port = free_port()
    server = start_server(database_url, args.redis_url, port, args.workers)
    meter = CpuMeter(server.pid, database_url.rsplit("/", 1)[-1].split("?")[0])
    url = f"http://127.0.0.1:{port}"
    figures: list[Figure] = []
    try:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            warm = "tnt_bench_warmup"
            await post_all(
                url,
                "/api/v1/traces/batch",
                bulk[: max(args.workers, 2)],
                "application/json",
                warm,
                max(args.workers, 2),
                progress,
                "warm-up",
            )
            tenant = "tnt_bench_batch"
            mark = meter.read()
            seconds, _ = await post_all(
                url,
                "/api/v1/traces/batch",
                bulk,
                "application/json",
                tenant,
                args.concurrency,
                progress,
                "batch",
            )
            service_cpu, postgres_cpu, client_cpu = (
                a - b for a, b in zip(meter.read(), mark, strict=True)
            )
            steps = await count_steps(database_url, tenant)
            figures.append(
                Figure(
                    "POST /api/v1/traces/batch",
                    steps,
                    "steps",
                    seconds,
                    len(bulk),
                    steps,
                    service_cpu,
                    postgres_cpu,
                    client_cpu,
                )
            )
            tenant = "tnt_bench_otlp"
            mark = meter.read()
            seconds, _ = await post_all(
                url,
                "/v1/traces",
                otlp,
                "application/x-protobuf",
                tenant,
                args.concurrency,
                progress,
                "otlp",
            )
            service_cpu, postgres_cpu, client_cpu = (
                a - b for a, b in zip(meter.read(), mark, strict=True)
            )
            steps = await count_steps(database_url, tenant)
            spans = len(otlp) * SPANS_PER_TRACE * TRACES_PER_EXPORT
            figures.append(
                Figure(
                    "POST /v1/traces (OTLP protobuf)",
                    spans,
                    "spans",
                    seconds,
                    len(otlp),
                    steps,
                    service_cpu,
                    postgres_cpu,
                    client_cpu,
                )
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    seconds, postgres_cpu = await copy_peer(database_url, args.steps, meter)
    figures.append(
        Figure(
            "peer: asyncpg COPY into trace_steps",
            args.steps,
            "steps",
            seconds,
            0,
            args.steps,
            postgres_cpu=postgres_cpu,
        )
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "AOS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("AOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    console = Console()
    database_url = create_database(args.database_url, prefix="aos_bench_traces")
    try:
        migrate("aos_traces", database_url)
        figures = asyncio.run(run(args, database_url, console))
    finally:
        drop_database(database_url)
    table = Table(
        "path", "units", "seconds", "units/s", "steps/s", "service CPU", "PG CPU", "client CPU"
    )
    for figure in figures:
        table.add_row(
            figure.name,
            f"{figure.units:,} {figure.unit}",
            f"{figure.seconds:.2f}",
            f"{figure.rate:,.0f}",
            f"{figure.steps_rate:,.0f}",
            figure.cpu_text(figure.service_cpu),
            figure.cpu_text(figure.postgres_cpu),
            figure.cpu_text(figure.client_cpu),
        )
    console.print(table)
    if not args.no_write:
        write_performance_section(render(figures, args))
        console.print(f"wrote the ingest_traces section of {PERFORMANCE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
