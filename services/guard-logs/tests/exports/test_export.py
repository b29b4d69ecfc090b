"""GET /api/v1/guard/logs/export: CSV, NDJSON, JSON; recorded in log_exports and audited."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from aos_common.state import service_state
from aos_common.testing.streaming import StreamingASGITransport
from aos_guard_logs.domain.exporting import CSV_HEADER

from ..conftest import Platform, make_trace, new_tenant, reader, store_trace

EXPORT = "/api/v1/guard/logs/export"


@pytest.fixture(scope="module")
async def seeded(platform: Platform) -> dict[str, Any]:
    tenant = new_tenant()
    for index in range(4):
        await store_trace(platform, tenant, make_trace(index, agent_id=f'agent, "{index}"'))
    listed = await platform.client.get(
        "/api/v1/guard/logs", params={"limit": 100}, headers=reader(tenant)
    )
    return {"tenant": tenant, "items": listed.json()["items"], "total": listed.json()["total"]}


async def test_csv_export_headers(platform: Platform, seeded: dict[str, Any]) -> None:
    response = await platform.client.get(
        EXPORT, params={"format": "csv"}, headers=reader(seeded["tenant"])
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        f"attachment; filename=logs_export_{seeded['tenant']}.csv"
    )


async def test_csv_export_starts_with_the_exact_header(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    response = await platform.client.get(
        EXPORT, params={"format": "csv"}, headers=reader(seeded["tenant"])
    )
    assert response.text.split("\r\n", 1)[0] == (
        "log_id,run_id,agent_id,status,total_steps,success_count,failure_count,started_at,"
        "completed_at,duration_ms"
    )


async def test_csv_export_quotes_every_value(platform: Platform, seeded: dict[str, Any]) -> None:
    response = await platform.client.get(
        EXPORT, params={"format": "csv"}, headers=reader(seeded["tenant"])
    )
    rows = list(csv.reader(io.StringIO(response.text, newline="")))[1:]
    raw_lines = response.text.split("\r\n")[1:-1]
    assert len(raw_lines) == len(rows) == 4
    for line, row in zip(raw_lines, rows, strict=True):
        assert line == ",".join('"' + value.replace('"', '""') + '"' for value in row)


async def test_csv_export_round_trips_the_list(platform: Platform, seeded: dict[str, Any]) -> None:
    response = await platform.client.get(
        EXPORT, params={"format": "csv"}, headers=reader(seeded["tenant"])
    )
    parsed = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert tuple(parsed[0]) == CSV_HEADER
    by_run = {item["run_id"]: item for item in seeded["items"]}
    for row in parsed:
        item = by_run[row["run_id"]]
        for name in CSV_HEADER:
            expected = item["total_duration_ms" if name == "duration_ms" else name]
            assert row[name] == ("" if expected is None else str(expected)), name


async def test_ndjson_export_has_one_line_per_log(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    import orjson

    response = await platform.client.get(
        EXPORT, params={"format": "ndjson"}, headers=reader(seeded["tenant"])
    )
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = response.content.splitlines()
    assert len(lines) == seeded["total"]
    assert {orjson.loads(line)["log_id"] for line in lines} == {
        item["log_id"] for item in seeded["items"]
    }


async def test_json_export_is_the_envelope(platform: Platform, seeded: dict[str, Any]) -> None:
    response = await platform.client.get(EXPORT, headers=reader(seeded["tenant"]))
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert set(body["data"]) == {"format", "logs", "total", "exported_at"}
    assert body["data"]["format"] == "json"
    assert body["data"]["total"] == len(body["data"]["logs"]) == seeded["total"]
    assert set(body["meta"]) == {"timestamp", "request_id"}
    assert body["meta"]["request_id"] == response.headers["x-request-id"]


async def test_export_honours_the_limit(platform: Platform, seeded: dict[str, Any]) -> None:
    response = await platform.client.get(
        EXPORT, params={"format": "ndjson", "limit": 2}, headers=reader(seeded["tenant"])
    )
    assert len(response.content.splitlines()) == 2


async def test_unknown_format_is_400(platform: Platform, seeded: dict[str, Any]) -> None:
    response = await platform.client.get(
        EXPORT, params={"format": "xml"}, headers=reader(seeded["tenant"])
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "Unsupported export format 'xml'; use json, csv or ndjson"


async def test_limit_above_100000_is_a_validation_error(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    response = await platform.client.get(
        EXPORT, params={"limit": 100_001}, headers=reader(seeded["tenant"])
    )
    assert response.status_code == 422


async def test_export_shows_nothing_of_another_tenant(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    response = await platform.client.get(
        EXPORT, params={"format": "ndjson"}, headers=reader(new_tenant())
    )
    assert response.status_code == 200
    assert response.content == b""


async def test_export_refuses_another_tenants_id(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    response = await platform.client.get(
        EXPORT, params={"tenant_id": seeded["tenant"]}, headers=reader(new_tenant())
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Cannot access other tenant's data"


async def test_export_is_recorded_with_the_digest_of_the_bytes_sent(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    headers = reader(seeded["tenant"])
    response = await platform.client.get(
        EXPORT, params={"format": "csv", "agent_id": 'agent, "1"'}, headers=headers
    )
    export_id = response.headers["x-export-id"]
    record = await platform.client.get(f"/api/v1/logs/exports/{export_id}", headers=headers)
    assert record.status_code == 200, record.text
    data = record.json()["data"]
    assert data["sha256"] == hashlib.sha256(response.content).hexdigest()
    assert data["byte_count"] == len(response.content)
    assert (data["format"], data["status"], data["row_count"]) == ("csv", "completed", 1)
    assert data["filters"] == {"agent_id": 'agent, "1"', "limit": 1000}
    assert data["principal_type"] == "api_key"


async def test_export_is_audited_as_logs_exported(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    from aos_common.testing import principal_headers

    response = await platform.client.get(
        EXPORT, params={"format": "ndjson"}, headers=reader(seeded["tenant"])
    )
    export_id = response.headers["x-export-id"]
    await service_state(platform.guard).outbox_relay.deliver_pending()
    entries: list[dict[str, Any]] = []
    for _attempt in range(20):
        audit = await platform.peer_clients["audit-ledger"].get(
            "/internal/v1/audit/entries",
            params={"tenant_id": seeded["tenant"], "entity_id": export_id},
            headers=principal_headers(None, principal_type="service", roles=["service"]),
        )
        assert audit.status_code == 200, audit.text
        entries = audit.json()["entries"]
        if entries:
            break
        await asyncio.sleep(0.2)
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["event_type"], entry["entity_type"]) == ("LogsExported", "EXPORT")
    assert entry["after_state"]["sha256"] == hashlib.sha256(response.content).hexdigest()


async def test_export_filters_by_date_window(platform: Platform, seeded: dict[str, Any]) -> None:
    starts = sorted(item["started_at"] for item in seeded["items"])
    response = await platform.client.get(
        EXPORT,
        params={"format": "ndjson", "from_date": starts[1], "to_date": starts[2]},
        headers=reader(seeded["tenant"]),
    )
    assert response.status_code == 200, response.text
    assert len(response.content.splitlines()) == 2


async def test_export_with_a_reversed_window_is_400(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    response = await platform.client.get(
        EXPORT,
        params={"from_date": "2026-02-01T00:00:00Z", "to_date": "2026-01-01T00:00:00Z"},
        headers=reader(seeded["tenant"]),
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "from_date must not be after to_date"


async def test_export_with_a_malformed_date_is_422(
    platform: Platform, seeded: dict[str, Any]
) -> None:
    response = await platform.client.get(
        EXPORT, params={"from_date": "yesterday"}, headers=reader(seeded["tenant"])
    )
    assert response.status_code == 422


class CutAfter(StreamingASGITransport):
    """The real traces app behind a network that drops the connection after `limit` bytes."""

    def __init__(self, app: Any, limit: int) -> None:
        super().__init__(app)
        self.limit = limit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if not request.url.path.endswith("/stream"):
            return response
        inner = response.stream
        limit = self.limit

        class Cut(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                sent = 0
                async for chunk in inner:  # type: ignore[union-attr]
                    sent += len(chunk)
                    if sent > limit:
                        raise httpx.ReadError("connection reset by peer")
                    yield chunk

            async def aclose(self) -> None:
                await inner.aclose()  # type: ignore[union-attr]

        return httpx.Response(
            response.status_code, headers=response.headers, stream=Cut(), request=request
        )


async def test_an_export_whose_upstream_breaks_is_recorded_as_failed(
    platform: Platform, seeded: dict[str, Any], database_url: str, redis_url: str
) -> None:
    from aos_common.testing import app_client
    from aos_guard_logs.main import create_app
    from aos_guard_logs.settings import GuardLogsSettings

    from ..conftest import settings_kwargs

    app = create_app(
        GuardLogsSettings(**settings_kwargs(database_url, redis_url)),
        transports={"traces": CutAfter(platform.peers["traces"], limit=700)},
    )
    headers = reader(seeded["tenant"])
    async with app_client(app) as client:
        response = await client.get(EXPORT, params={"format": "ndjson"}, headers=headers)
        export_id = response.headers["x-export-id"]
        assert len(response.content.splitlines()) < seeded["total"]
    record = await platform.client.get(f"/api/v1/logs/exports/{export_id}", headers=headers)
    assert record.status_code == 200, record.text
    assert record.json()["data"]["status"] == "failed"
