"""Streaming serializers for log exports: CSV, NDJSON and the JSON envelope.

Rows arrive one at a time from an async iterator (the traces service's NDJSON stream) and leave as
byte chunks of about `CHUNK_BYTES`, so an export of 100,000 rows never holds more than one chunk.
While streaming, `ExportStats` hashes the exact bytes handed to the client and counts rows: the
export record stores that digest, so a customer can prove which file they received.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from operator import itemgetter
from typing import Any

import orjson

from aos_common import domain_metrics
from aos_guard_logs.domain.logids import log_id_for

CHUNK_BYTES = 64 * 1024

CSV_HEADER = (
    "log_id",
    "run_id",
    "agent_id",
    "status",
    "total_steps",
    "success_count",
    "failure_count",
    "started_at",
    "completed_at",
    "duration_ms",
)
CSV_KEYS = tuple("total_duration_ms" if name == "duration_ms" else name for name in CSV_HEADER)


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    NDJSON = "ndjson"

    @property
    def media_type(self) -> str:
        return {
            ExportFormat.JSON: "application/json",
            ExportFormat.CSV: "text/csv; charset=utf-8",
            ExportFormat.NDJSON: "application/x-ndjson",
        }[self]

    @property
    def extension(self) -> str:
        return self.value


def log_row(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A customer-facing log row from a traces summary (API.md guard-logs list item)."""
    run_id = str(summary.get("run_id") or summary.get("trace_id") or "")
    return {
        "log_id": log_id_for(run_id),
        "run_id": run_id,
        "agent_id": summary.get("agent_id"),
        "status": summary.get("status"),
        "total_steps": summary.get("total_steps", 0),
        "success_count": summary.get("success_count", 0),
        "failure_count": summary.get("failure_count", 0),
        "started_at": summary.get("started_at"),
        "completed_at": summary.get("completed_at"),
        "total_duration_ms": whole_milliseconds(summary.get("total_duration_ms")),
    }


def whole_milliseconds(value: Any) -> int:
    """A log's duration in whole milliseconds: traces sum step durations as floats (600.0), but
    the contract's `duration_ms` column is an integer, so it is never written as `600.0`."""
    try:
        return round(float(value or 0))
    except (TypeError, ValueError, OverflowError):
        return 0


@dataclass
class ExportStats:
    """Running totals of one export: rows written, bytes sent and their SHA-256."""

    row_count: int = 0
    byte_count: int = 0
    _digest: Any = field(default_factory=hashlib.sha256, repr=False)
    completed: bool = False

    def account(self, chunk: bytes) -> bytes:
        self._digest.update(chunk)
        self.byte_count += len(chunk)
        return chunk

    @property
    def sha256(self) -> str:
        return str(self._digest.hexdigest())


async def _chunked(pieces: AsyncIterator[bytes], stats: ExportStats) -> AsyncIterator[bytes]:
    """Coalesce small pieces into chunks of about CHUNK_BYTES, accounting for every byte sent."""
    buffer = bytearray()
    async for piece in pieces:
        buffer += piece
        if len(buffer) >= CHUNK_BYTES:
            yield stats.account(bytes(buffer))
            buffer.clear()
    if buffer:
        yield stats.account(bytes(buffer))


async def _csv_pieces(
    rows: AsyncIterator[Mapping[str, Any]], stats: ExportStats
) -> AsyncIterator[bytes]:
    """The header exactly as API.md writes it, then every value quoted (csv.QUOTE_ALL).

    The csv module writes None as an empty (quoted) field; rows are written into one buffer that
    is handed on whenever it reaches CHUNK_BYTES.
    """
    sink = io.StringIO()
    writer = csv.writer(sink, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    values = itemgetter(*CSV_KEYS)
    sink.write(",".join(CSV_HEADER) + "\r\n")
    async for row in rows:
        writer.writerow(values(row))
        stats.row_count += 1
        if sink.tell() >= CHUNK_BYTES:
            yield sink.getvalue().encode("utf-8")
            sink.seek(0)
            sink.truncate()
    yield sink.getvalue().encode("utf-8")


async def _ndjson_pieces(
    rows: AsyncIterator[Mapping[str, Any]], stats: ExportStats
) -> AsyncIterator[bytes]:
    async for row in rows:
        stats.row_count += 1
        yield orjson.dumps(row) + b"\n"


async def _json_pieces(
    rows: AsyncIterator[Mapping[str, Any]],
    stats: ExportStats,
    *,
    exported_at: str,
    request_id: str,
    timestamp: str,
) -> AsyncIterator[bytes]:
    """The envelope of API.md, written around the rows; `total` follows the rows it counts."""
    yield (
        b'{"success":true,"data":{"format":"json","exported_at":'
        + orjson.dumps(exported_at)
        + b',"logs":['
    )
    async for row in rows:
        yield (b"," if stats.row_count else b"") + orjson.dumps(row)
        stats.row_count += 1
    yield (
        b'],"total":'
        + str(stats.row_count).encode()
        + b'},"meta":'
        + orjson.dumps({"timestamp": timestamp, "request_id": request_id})
        + b"}"
    )


def serialize(
    export_format: ExportFormat,
    rows: AsyncIterator[Mapping[str, Any]],
    stats: ExportStats,
    *,
    exported_at: str = "",
    request_id: str = "",
    timestamp: str = "",
) -> AsyncIterator[bytes]:
    """Byte chunks of `rows` in `export_format`; `stats` is complete once the iterator is exhausted."""
    if export_format is ExportFormat.CSV:
        pieces = _csv_pieces(rows, stats)
    elif export_format is ExportFormat.NDJSON:
        pieces = _ndjson_pieces(rows, stats)
    else:
        pieces = _json_pieces(
            rows, stats, exported_at=exported_at, request_id=request_id, timestamp=timestamp
        )
    return _finish(_chunked(pieces, stats), stats, export_format.value)


async def _finish(
    chunks: AsyncIterator[bytes], stats: ExportStats, kind: str
) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield chunk
    stats.completed = True
    domain_metrics.EXPORTS.labels("guard-logs", kind).inc()
