"""GET /api/v1/guard/logs/{log_id}/bundle against real traces, audit-ledger and cost-intel."""

from __future__ import annotations

import io
import secrets
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from aos_common.testing import principal_headers
from aos_guard_logs.cli import bundle_app
from aos_proofs.bundle import verify_bundle

from ..conftest import Platform, make_trace, new_tenant, reader, store_trace

SERVICE = {"principal_type": "service", "roles": ["service"]}


async def audit_entry(platform: Platform, tenant: str, entity_id: str, reason: str) -> None:
    response = await platform.peer_clients["audit-ledger"].post(
        "/internal/v1/audit/entries",
        json={
            "id": "al_" + secrets.token_hex(8),
            "tenant_id": tenant,
            "event_type": "IncidentAcknowledged",
            "entity_type": "INCIDENT",
            "entity_id": entity_id,
            "actor_type": "HUMAN",
            "actor_id": "user_1",
            "action_reason": reason,
            "before_state": None,
            "after_state": {"acknowledged": True},
        },
        headers=principal_headers(tenant, **SERVICE),
    )
    assert response.status_code in (200, 201), response.text


async def cost_record(platform: Platform, tenant: str, run_id: str, cents: str) -> None:
    response = await platform.peer_clients["cost-intel"].post(
        "/internal/v1/cost/records",
        json={
            "tenant_id": tenant,
            "request_id": f"{run_id}:{secrets.token_hex(4)}",
            "workflow_id": run_id,
            "model": "gpt-4o",
            "input_tokens": 10,
            "output_tokens": 5,
            "cost_cents": cents,
        },
        headers=principal_headers(tenant, **SERVICE),
    )
    assert response.status_code in (200, 201), response.text


@pytest.fixture(scope="module")
async def evidence(platform: Platform) -> dict[str, Any]:
    tenant = new_tenant()
    trace = await store_trace(platform, tenant, make_trace(5))
    await audit_entry(platform, tenant, "unrelated", "before")
    await audit_entry(platform, tenant, trace["run_id"], "first look")
    await audit_entry(platform, tenant, "unrelated", "between")
    await audit_entry(platform, tenant, trace["run_id"], "second look")
    await cost_record(platform, tenant, trace["run_id"], "1.25")
    await cost_record(platform, tenant, trace["run_id"], "2.5")
    log_id = "log_" + trace["run_id"].removeprefix("run_")
    response = await platform.client.get(
        f"/api/v1/guard/logs/{log_id}/bundle", headers=reader(tenant)
    )
    assert response.status_code == 200, response.text
    return {"tenant": tenant, "trace": trace, "log_id": log_id, "response": response}


def members(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def test_bundle_is_a_zip_attachment(evidence: dict[str, Any]) -> None:
    response = evidence["response"]
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert set(members(response.content)) == {
        "manifest.json",
        "trace.json",
        "steps.ndjson",
        "integrity.json",
        "audit.json",
        "costs.json",
    }


async def test_bundle_holds_the_runs_audit_entries_and_costs(evidence: dict[str, Any]) -> None:
    files = members(evidence["response"].content)
    audit = orjson.loads(files["audit.json"])
    assert [entry["action_reason"] for entry in audit["entries"]] == ["first look", "second look"]
    assert all("proof" in entry for entry in audit["entries"])
    costs = orjson.loads(files["costs.json"])
    assert len(costs["records"]) == 2
    assert len(files["steps.ndjson"].splitlines()) == 3


async def test_a_served_bundle_verifies_offline(evidence: dict[str, Any]) -> None:
    report = verify_bundle(io.BytesIO(evidence["response"].content))
    assert report.ok, report.failures


async def test_a_served_bundle_verifies_against_the_ledgers_published_key(
    platform: Platform, evidence: dict[str, Any]
) -> None:
    key = await platform.peer_clients["audit-ledger"].get(
        "/api/v1/audit/public-key", headers=reader(evidence["tenant"])
    )
    assert key.status_code == 200, key.text
    public_key = key.json().get("public_key") or key.json().get("data", {}).get("public_key")
    report = verify_bundle(io.BytesIO(evidence["response"].content), public_key=public_key)
    assert report.ok, report.failures


async def test_a_tampered_bundle_fails_aos_bundle_verify(
    evidence: dict[str, Any], tmp_path: Path
) -> None:
    files = members(evidence["response"].content)
    audit = orjson.loads(files["audit.json"])
    audit["entries"][0]["action_reason"] = "nobody looked"
    files["audit.json"] = orjson.dumps(audit)
    path = tmp_path / "tampered.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    result = CliRunner().invoke(bundle_app, ["verify", str(path)])
    assert result.exit_code == 1
    assert "INVALID" in result.output


async def test_the_genuine_bundle_passes_aos_bundle_verify(
    evidence: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(evidence["response"].content)
    result = CliRunner().invoke(bundle_app, ["verify", str(path)])
    assert result.exit_code == 0, result.output


async def test_bundle_of_another_tenants_log_is_404(
    platform: Platform, evidence: dict[str, Any]
) -> None:
    response = await platform.client.get(
        f"/api/v1/guard/logs/{evidence['log_id']}/bundle", headers=reader(new_tenant())
    )
    assert response.status_code == 404
    assert response.json()["detail"] == f"Log {evidence['log_id']} not found or access denied"
