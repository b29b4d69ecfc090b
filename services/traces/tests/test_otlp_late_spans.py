"""Late and out-of-order OTLP spans: the same spans in any export order give the same stored
trace, and a span after the root hash became final is stored and amends the trace."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from aos_common.testing import app_client
from aos_proofs.trace_hash import compute_root_hash
from aos_traces.main import create_app

from .support import Tenant, traces_settings
from .test_otlp_api import export, outbox_requests

TRACE_HEX = "7a" * 16
ROOT = "00000000000000f0"
START = 1_763_000_000_000_000_000


def _value(value: str | int) -> AnyValue:
    return AnyValue(string_value=value) if isinstance(value, str) else AnyValue(int_value=value)


def child(number: int, *, failed: bool = False, **attributes: str | int) -> Span:
    """An LLM call; spans start 1 ms apart, the last one first in id order."""
    merged: dict[str, str | int] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 100 * number,
        "gen_ai.usage.output_tokens": 10 * number,
        "gen_ai.usage.cache_read.input_tokens": 5 * number,
        **attributes,
    }
    return Span(
        trace_id=bytes.fromhex(TRACE_HEX),
        span_id=bytes.fromhex(f"{0xA0 - number:016x}"),
        parent_span_id=bytes.fromhex(ROOT),
        name=f"chat {number}",
        start_time_unix_nano=START + number * 1_000_000,
        end_time_unix_nano=START + number * 1_000_000 + 500_000,
        status=Status(code=Status.STATUS_CODE_ERROR if failed else Status.STATUS_CODE_UNSET),
        attributes=[KeyValue(key=k, value=_value(v)) for k, v in merged.items()],
    )


def root() -> Span:
    return Span(
        trace_id=bytes.fromhex(TRACE_HEX),
        span_id=bytes.fromhex(ROOT),
        name="agent run",
        start_time_unix_nano=START,
        end_time_unix_nano=START + 9_000_000,
    )


def spans() -> dict[str, Span]:
    return {
        "root": root(),
        "a": child(1),
        "b": child(2, failed=True),
        "c": child(3, **{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}),
        "d": child(4),
    }


DELIVERIES = {
    "root_first": [["root"], ["a", "b"], ["c", "d"]],
    "root_last": [["a", "b", "c", "d"], ["root"]],
    "children_split": [["c"], ["root", "a"], ["d", "b"]],
    "one_by_one_reversed": [["d"], ["c"], ["b"], ["a"], ["root"]],
}


async def deliver(client: httpx.AsyncClient, tenant: Tenant, batches: list[list[str]]) -> None:
    made = spans()
    for batch in batches:
        response = await client.post(
            "/v1/traces",
            content=export(*(made[name] for name in batch)),
            headers={**tenant.developer, "content-type": "application/x-protobuf"},
        )
        assert response.status_code == 200
        answer = ExportTraceServiceResponse.FromString(response.content)
        assert answer.partial_success.rejected_spans == 0


def stored_view(document: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    """What must not depend on the export order (tenant-specific fields left out)."""
    trace = {
        key: document[key]
        for key in (
            "trace_id",
            "run_id",
            "status",
            "started_at",
            "completed_at",
            "level",
            "agent_id",
        )
    }
    costs = sorted(
        ({k: v for k, v in record.items() if k not in ("tenant_id", "id")} for record in records),
        key=lambda record: record["request_id"],
    )
    return {"trace": trace, "steps": document["steps"], "costs": costs}


async def test_any_export_order_gives_the_same_steps_tokens_and_costs(
    client: httpx.AsyncClient, database_url: str
) -> None:
    views = {}
    for name, batches in DELIVERIES.items():
        tenant = Tenant("tnt_" + secrets.token_hex(8))
        await deliver(client, tenant, batches)
        response = await client.get(f"/api/v1/traces/trace_{TRACE_HEX}", headers=tenant.admin)
        document = response.json()
        assert document["root_hash"] == compute_root_hash(42, None, tenant.id, document["steps"])
        assert document["amended"] is False
        views[name] = stored_view(document, await outbox_requests(database_url, tenant.id))
    reference = views.pop("root_first")
    assert [s["skill_id"] for s in reference["steps"]] == [
        "gen_ai.chat",
        "gen_ai.chat",
        "gen_ai.execute_tool",
        "gen_ai.chat",
    ]
    assert reference["trace"]["status"] == "failed"
    assert len(reference["costs"]) == 3
    for name, view in views.items():
        assert view["trace"] == reference["trace"], name
        assert view == reference, name


@pytest.fixture
async def final_at_once(database_url: str, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The service with no grace period: a root hash is final as soon as the root arrives."""
    settings = traces_settings(database_url, redis_url, otlp_late_span_grace_seconds=0)
    async with app_client(create_app(settings)) as http:
        yield http


async def test_a_span_after_the_hash_is_final_is_stored_and_amends_the_trace(
    final_at_once: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    await deliver(final_at_once, tenant, [["root", "a"]])
    url = f"/api/v1/traces/trace_{TRACE_HEX}"
    final = (await final_at_once.get(url, headers=tenant.admin)).json()
    assert final["amended"] is False and final["status"] == "completed"
    await deliver(final_at_once, tenant, [["c", "b"]])
    amended = (await final_at_once.get(url, headers=tenant.admin)).json()
    assert [s["step_index"] for s in amended["steps"]] == [0, 1, 2]
    assert amended["amended"] is True and amended["status"] == "failed"
    assert amended["final_root_hash"] == final["root_hash"]
    assert amended["root_hash"] == compute_root_hash(42, None, tenant.id, amended["steps"])
    assert amended["root_hash"] != final["root_hash"]
    (amendment,) = amended["amendments"]
    assert amendment["previous_root_hash"] == final["root_hash"]
    assert amendment["root_hash"] == amended["root_hash"]
    assert sorted(amendment["span_ids"]) == sorted([f"{0xA0 - 2:016x}", f"{0xA0 - 3:016x}"])
    records = await outbox_requests(database_url, tenant.id)
    assert len(records) == 2


async def test_a_resent_span_does_not_amend_a_final_trace(
    final_at_once: httpx.AsyncClient, tenant: Tenant
) -> None:
    await deliver(final_at_once, tenant, [["root", "a"]])
    await deliver(final_at_once, tenant, [["a"], ["root"]])
    document = (
        await final_at_once.get(f"/api/v1/traces/trace_{TRACE_HEX}", headers=tenant.admin)
    ).json()
    assert document["amended"] is False and len(document["steps"]) == 1


async def test_a_final_hash_cannot_change_without_an_amendment(
    final_at_once: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    await deliver(final_at_once, tenant, [["root", "a"]])
    connection = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.CheckViolationError):
            await connection.execute(
                "UPDATE traces.traces SET root_hash = 'forged' WHERE tenant_id = $1",
                tenant.id,
            )
    finally:
        await connection.close()
