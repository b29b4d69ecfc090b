import csv
import hashlib
import io
from collections.abc import AsyncIterator
from typing import Any

import orjson

from aos_guard_logs.domain.exporting import (
    CHUNK_BYTES,
    CSV_HEADER,
    ExportFormat,
    ExportStats,
    log_row,
    serialize,
)


def summary(index: int, **overrides: Any) -> dict[str, Any]:
    return {
        "trace_id": f"trace_{index:016x}",
        "run_id": f"run_{index:016x}",
        "agent_id": 'agent, "quoted"\nline',
        "status": "completed",
        "total_steps": 3,
        "success_count": 2,
        "failure_count": 1,
        "started_at": "2026-01-01T00:00:00+00:00",
        "completed_at": None,
        "total_duration_ms": 1234,
        **overrides,
    }


async def rows(count: int) -> AsyncIterator[dict[str, Any]]:
    for index in range(count):
        yield log_row(summary(index))


async def collect(export_format: ExportFormat, count: int) -> tuple[bytes, ExportStats, int]:
    stats = ExportStats()
    chunks = [
        chunk
        async for chunk in serialize(
            export_format, rows(count), stats, exported_at="T", request_id="req-1", timestamp="T"
        )
    ]
    return b"".join(chunks), stats, len(chunks)


async def test_csv_starts_with_the_exact_header() -> None:
    body, _, _ = await collect(ExportFormat.CSV, 1)
    assert body.split(b"\r\n", 1)[0].decode() == ",".join(CSV_HEADER)


async def test_csv_quotes_every_value() -> None:
    body, _, _ = await collect(ExportFormat.CSV, 1)
    line = body.decode().split("\r\n", 1)[1]
    assert line.startswith('"log_0000000000000000","run_0000000000000000",')
    assert ',"3","2","1","2026-01-01T00:00:00+00:00","","1234"' in line


async def test_csv_round_trips_through_the_csv_module() -> None:
    body, stats, _ = await collect(ExportFormat.CSV, 5)
    parsed = list(csv.DictReader(io.StringIO(body.decode(), newline="")))
    assert len(parsed) == stats.row_count == 5
    assert parsed[4]["run_id"] == "run_0000000000000004"
    assert parsed[0]["agent_id"] == 'agent, "quoted"\nline'
    assert parsed[0]["duration_ms"] == "1234"
    assert parsed[0]["completed_at"] == ""


async def test_ndjson_has_one_row_per_line() -> None:
    body, stats, _ = await collect(ExportFormat.NDJSON, 7)
    lines = body.decode().splitlines()
    assert len(lines) == stats.row_count == 7
    assert orjson.loads(lines[6])["log_id"] == "log_0000000000000006"


async def test_json_export_is_the_envelope_with_total() -> None:
    body, stats, _ = await collect(ExportFormat.JSON, 3)
    document = orjson.loads(body)
    assert document["success"] is True
    assert document["data"]["format"] == "json"
    assert document["data"]["total"] == stats.row_count == 3
    assert [log["run_id"] for log in document["data"]["logs"]] == [
        f"run_{index:016x}" for index in range(3)
    ]
    assert document["meta"] == {"timestamp": "T", "request_id": "req-1"}


async def test_empty_json_export_is_valid() -> None:
    body, _, _ = await collect(ExportFormat.JSON, 0)
    assert orjson.loads(body)["data"]["logs"] == []


async def test_stats_hash_the_exact_bytes_streamed() -> None:
    for export_format in ExportFormat:
        body, stats, _ = await collect(export_format, 50)
        assert stats.sha256 == hashlib.sha256(body).hexdigest()
        assert stats.byte_count == len(body)
        assert stats.completed


async def test_rows_are_coalesced_into_large_chunks() -> None:
    body, _, chunk_count = await collect(ExportFormat.NDJSON, 5000)
    assert chunk_count <= len(body) // CHUNK_BYTES + 1


async def test_a_float_duration_is_written_as_whole_milliseconds() -> None:
    stats = ExportStats()

    async def float_rows() -> AsyncIterator[dict[str, Any]]:
        yield log_row(summary(0, total_duration_ms=600.0))
        yield log_row(summary(1, total_duration_ms=1234.6))

    body = b"".join(
        [
            chunk
            async for chunk in serialize(
                ExportFormat.CSV,
                float_rows(),
                stats,
                exported_at="T",
                request_id="r",
                timestamp="T",
            )
        ]
    )
    parsed = list(csv.DictReader(io.StringIO(body.decode(), newline="")))
    assert [row["duration_ms"] for row in parsed] == ["600", "1235"]
