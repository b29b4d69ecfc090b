"""Cross-service flows through the gateway of the running platform (real processes, real servers).

Each test works in its own tenant, created by the platform operator, so tests do not see each
other's data.
"""

from __future__ import annotations

import secrets
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from typer.testing import CliRunner

from aos_cli import bootstrap
from aos_cli.main import app
from aos_cli.testing import RunningPlatform

EVENTUAL_SECONDS = 20.0


@dataclass(frozen=True)
class Tenant:
    id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-AOS-Key": self.key}


@pytest.fixture(scope="module")
def gateway(platform: RunningPlatform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.gateway_url, timeout=30.0, trust_env=False) as client:
        yield client


@pytest.fixture
def new_tenant(platform: RunningPlatform, gateway: httpx.Client) -> Callable[[], Tenant]:
    operator = {"X-AOS-Key": platform.credentials["operator_key"]}

    def create() -> Tenant:
        name = f"e2e-{secrets.token_hex(4)}"
        response = gateway.post("/api/v1/tenants", json={"name": name}, headers=operator)
        assert response.status_code == 201, response.text
        body = response.json()
        return Tenant(id=body["id"], key=body["initial_api_key"]["key"])

    return create


def _eventually(probe: Callable[[], Any], what: str) -> Any:
    """Poll until `probe` returns something truthy (outbox deliveries are asynchronous)."""
    deadline = time.monotonic() + EVENTUAL_SECONDS
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {EVENTUAL_SECONDS:g} s")
        time.sleep(0.25)


def _trace(run_id: str) -> dict[str, Any]:
    steps = [
        {
            "step_index": index,
            "skill_id": f"skill.{index}",
            "skill_name": f"Skill {index}",
            "params": {"n": index},
            "status": "success",
            "outcome_category": "ok",
            "outcome_data": {"answer": index},
            "cost_cents": 1.5,
            "duration_ms": 10,
            "timestamp": f"2026-01-01T00:00:0{index}Z",
        }
        for index in range(3)
    ]
    return {
        "run_id": run_id,
        "agent_id": "e2e-agent",
        "plan": [{"skill_id": s["skill_id"]} for s in steps],
        "steps": steps,
        "status": "completed",
        "started_at": "2026-01-01T00:00:00Z",
        "completed_at": "2026-01-01T00:00:03Z",
        "frozen_timestamp": "2026-01-01T00:00:00Z",
        "seed": 42,
    }


@pytest.mark.skipif(not bootstrap.available(), reason="the tenants package has no bootstrap_demo")
def test_demo_admin_key_and_console_token_work_through_the_gateway(
    platform: RunningPlatform, gateway: httpx.Client
) -> None:
    credentials = platform.credentials
    for headers in (
        {"X-AOS-Key": credentials["admin_key"]},
        {"Authorization": f"Bearer {credentials['console_token']}"},
    ):
        response = gateway.get("/api/v1/tenant", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["id"] == credentials["tenant_id"]


def test_requests_without_credentials_are_refused_by_the_gateway(gateway: httpx.Client) -> None:
    response = gateway.get("/api/v1/tenant")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "Authentication required"


def test_a_trace_stored_through_the_gateway_is_a_guard_log_of_its_tenant_only(
    gateway: httpx.Client, new_tenant: Callable[[], Tenant]
) -> None:
    owner, stranger = new_tenant(), new_tenant()
    run_id = f"run_{secrets.token_hex(8)}"

    stored = gateway.post("/api/v1/traces", json=_trace(run_id), headers=owner.headers)
    assert stored.status_code == 201, stored.text

    assert gateway.get(f"/api/v1/traces/{run_id}", headers=owner.headers).status_code == 200
    logs = gateway.get("/api/v1/guard/logs", headers=owner.headers)
    assert logs.status_code == 200, logs.text
    assert [item["run_id"] for item in logs.json()["items"]] == [run_id]
    assert gateway.get(f"/api/v1/traces/{run_id}", headers=stranger.headers).status_code == 404
    assert gateway.get("/api/v1/guard/logs", headers=stranger.headers).json()["total"] == 0


def test_creating_an_api_key_is_recorded_in_the_audit_ledger(
    gateway: httpx.Client, new_tenant: Callable[[], Tenant]
) -> None:
    tenant = new_tenant()
    created = gateway.post("/api/v1/tenant/api-keys", json={"name": "ci"}, headers=tenant.headers)
    assert created.status_code == 201, created.text
    key_id = created.json()["id"]

    def entry() -> dict[str, Any] | None:
        response = gateway.get(
            "/api/v1/audit/entries",
            params={"event_type": "ApiKeyCreated", "entity_id": key_id},
            headers=tenant.headers,
        )
        assert response.status_code == 200, response.text
        entries = response.json()["data"]
        return entries[0] if entries else None

    found = _eventually(entry, "the ApiKeyCreated audit entry")
    assert found["tenant_id"] == tenant.id
    assert found["entity_type"] == "API_KEY"
    verified = gateway.get("/api/v1/audit/verify", headers=tenant.headers)
    assert verified.status_code == 200
    assert verified.json()["intact"] is True


def test_a_revoked_key_is_refused_through_the_gateway_within_5_seconds(
    gateway: httpx.Client, new_tenant: Callable[[], Tenant]
) -> None:
    tenant = new_tenant()
    created = gateway.post(
        "/api/v1/tenant/api-keys", json={"name": "short-lived"}, headers=tenant.headers
    ).json()
    key = {"X-AOS-Key": created["key"]}
    assert gateway.get("/api/v1/traces", headers=key).status_code == 200

    revoked = gateway.delete(f"/api/v1/tenant/api-keys/{created['id']}", headers=tenant.headers)
    assert revoked.status_code == 200, revoked.text

    # Verification caches live at most 5 s (API.md); a second of slack for this shared machine.
    deadline = time.monotonic() + 6.0
    while (refused := gateway.get("/api/v1/traces", headers=key)).status_code == 200:
        assert time.monotonic() < deadline, "the revoked key was still accepted after 5 s"
        time.sleep(0.25)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "Invalid API key"


def test_recorded_costs_add_up_in_the_tenant_summary(
    gateway: httpx.Client, new_tenant: Callable[[], Tenant]
) -> None:
    tenant = new_tenant()
    for cents in ("12.5", "0.25"):
        response = gateway.post(
            "/api/v1/cost/record",
            json={
                "model": "gpt-4o",
                "input_tokens": 100,
                "output_tokens": 20,
                "cost_cents": cents,
                "request_id": f"req_{secrets.token_hex(6)}",
            },
            headers=tenant.headers,
        )
        assert response.status_code in (200, 201), response.text

    summary = gateway.get("/api/v1/cost/summary", params={"period": "24h"}, headers=tenant.headers)
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["tenant_id"] == tenant.id
    assert float(body["total_cost_cents"]) == pytest.approx(12.75)
    assert body["request_count"] == 2


def test_an_evidence_bundle_downloaded_through_the_gateway_verifies_offline(
    gateway: httpx.Client,
    new_tenant: Callable[[], Tenant],
    tmp_path: Path,
) -> None:
    tenant = new_tenant()
    run_id = f"run_{secrets.token_hex(8)}"
    assert gateway.post("/api/v1/traces", json=_trace(run_id), headers=tenant.headers).is_success
    log_id = "log_" + run_id.removeprefix("run_")

    response = gateway.get(f"/api/v1/guard/logs/{log_id}/bundle", headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/zip")
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(response.content)
    public_key = gateway.get("/api/v1/audit/public-key", headers=tenant.headers).json()

    runner = CliRunner()
    # The data dir is empty on purpose: nothing from a developer's .aos leaks into this process.
    isolated = {"AOS_DATA_DIR": str(tmp_path / "no-platform")}
    verified = runner.invoke(
        app,
        ["bundle", "verify", str(bundle), "--public-key", _public_key(public_key)],
        env=isolated,
    )
    assert verified.exit_code == 0, verified.output

    tampered = tmp_path / "tampered.zip"
    _rewrite_member(bundle, tampered, "trace.json", lambda text: text.replace('"e2e-agent"', '"x"'))
    refused = runner.invoke(app, ["bundle", "verify", str(tampered)], env=isolated)
    assert refused.exit_code != 0


def _public_key(document: Any) -> str:
    """The base64 key from GET /api/v1/audit/public-key (bare or enveloped)."""
    if isinstance(document, dict):
        document = document.get("data", document)
        return str(document.get("public_key") or document.get("key"))
    return str(document)


def _rewrite_member(source: Path, target: Path, name: str, change: Callable[[str], str]) -> None:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for member in original.infolist():
            data = original.read(member)
            if member.filename == name:
                changed = change(data.decode())
                assert changed != data.decode(), f"{name} was not changed"
                data = changed.encode()
            copy.writestr(member, data)


def _otlp_export(trace_hex: str, spans: int) -> bytes:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    now = time.time_ns() - 60 * 10**9
    for index in range(1, spans + 1):
        attributes: dict[str, str | int] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 1000 * index,
            "gen_ai.usage.output_tokens": 100,
        }
        scope.spans.append(
            Span(
                trace_id=bytes.fromhex(trace_hex),
                span_id=index.to_bytes(8, "big"),
                name=f"chat {index}",
                start_time_unix_nano=now + index * 10**9,
                end_time_unix_nano=now + index * 10**9 + 5 * 10**8,
                attributes=[
                    KeyValue(key=k, value=AnyValue(string_value=v))
                    if isinstance(v, str)
                    else KeyValue(key=k, value=AnyValue(int_value=v))
                    for k, v in attributes.items()
                ],
            )
        )
    return request.SerializeToString()


def test_otlp_spans_sent_through_the_gateway_become_priced_cost_records(
    gateway: httpx.Client, new_tenant: Callable[[], Tenant]
) -> None:
    tenant = new_tenant()
    trace_hex = secrets.token_hex(16)
    response = gateway.post(
        "/v1/traces",
        content=_otlp_export(trace_hex, spans=2),
        headers={**tenant.headers, "content-type": "application/x-protobuf"},
    )
    assert response.status_code == 200, response.text

    stored = gateway.get(f"/api/v1/traces/trace_{trace_hex}", headers=tenant.headers)
    assert stored.status_code == 200, stored.text
    assert len(stored.json()["steps"]) == 2

    def summary() -> dict[str, Any] | None:
        body = gateway.get(
            "/api/v1/cost/summary", params={"period": "30d"}, headers=tenant.headers
        ).json()
        return body if body.get("request_count") == 2 else None

    costs = _eventually(summary, "two cost records derived from the OTLP spans")
    assert float(costs["total_cost_cents"]) > 0
    assert costs["total_input_tokens"] == 3000


def test_a_run_is_refused_once_a_hard_tenant_budget_is_exhausted(
    gateway: httpx.Client, new_tenant: Callable[[], Tenant]
) -> None:
    tenant = new_tenant()
    workers = gateway.get("/api/v1/workers", headers=tenant.headers)
    assert workers.status_code == 200, workers.text
    worker_id = workers.json()[0]["id"]
    started = gateway.post(
        "/api/v1/runs", json={"worker_id": worker_id, "task": "before"}, headers=tenant.headers
    )
    assert started.status_code == 201, started.text

    budget = gateway.post(
        "/api/v1/cost/budgets",
        json={"budget_type": "tenant", "daily_limit_cents": 1, "hard_limit_enabled": True},
        headers=tenant.headers,
    )
    assert budget.status_code in (200, 201), budget.text
    budget_id = budget.json()["id"]
    recorded = gateway.post(
        "/api/v1/cost/record",
        json={"model": "gpt-4o", "cost_cents": "5", "request_id": f"req_{secrets.token_hex(6)}"},
        headers=tenant.headers,
    )
    assert recorded.status_code in (200, 201), recorded.text

    refused = gateway.post(
        "/api/v1/runs", json={"worker_id": worker_id, "task": "after"}, headers=tenant.headers
    )
    assert refused.status_code == 402, refused.text
    assert refused.json()["detail"] == f"Budget exhausted: {budget_id}"


def test_budget_changes_and_a_reprice_are_recorded_in_the_audit_ledger(
    gateway: httpx.Client, new_tenant: Callable[[], Tenant]
) -> None:
    tenant = new_tenant()
    created = gateway.post(
        "/api/v1/cost/budgets",
        json={"budget_type": "tenant", "monthly_limit_cents": 10_000},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    budget_id = created.json()["id"]
    updated = gateway.post(
        "/api/v1/cost/budgets",
        json={"budget_type": "tenant", "monthly_limit_cents": 20_000},
        headers=tenant.headers,
    )
    assert updated.status_code == 200, updated.text
    version = gateway.get("/api/v1/cost/prices", headers=tenant.headers).json()["current_version"]
    now = time.time()
    window = {
        "from": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
        "to": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "price_version": version,
    }
    repriced = gateway.post("/api/v1/cost/reprice", json=window, headers=tenant.headers)
    assert repriced.status_code == 200, repriced.text

    def entries() -> list[dict[str, Any]] | None:
        response = gateway.get("/api/v1/audit/entries", headers=tenant.headers)
        assert response.status_code == 200, response.text
        kinds = {"LimitCreated", "LimitUpdated", "CostRepriced"}  # not the initial key's entry
        found = [e for e in response.json()["data"] if e["event_type"] in kinds]
        return found if len(found) >= 3 else None

    found = _eventually(entries, "the LimitCreated, LimitUpdated and CostRepriced entries")
    kinds = sorted((e["event_type"], e["entity_type"], e["entity_id"]) for e in found)
    assert kinds == [
        ("CostRepriced", "PRICE_BOOK", version),
        ("LimitCreated", "LIMIT", budget_id),
        ("LimitUpdated", "LIMIT", budget_id),
    ]
    assert {e["actor_type"] for e in found} == {"AGENT"}
    assert repriced.json()["audit_entry_id"] in {e["id"] for e in found}
