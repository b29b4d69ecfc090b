"""Logs of an end-to-end run under `aos up`: every line each process wrote is one JSON object,
uvicorn's access lines included, carrying the request, trace and tenant ids; no line holds a
credential the run used (API key, operator key) or the internal secret."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import httpx

from aos_cli.testing import RunningPlatform

PROCESSES = ("tenants", "traces", "cost-intel", "audit-ledger", "guard-logs", "gateway")


def _lines(logs: Path) -> dict[str, list[str]]:
    """What each process wrote; `aos up` itself only adds a `=== <name> starting at` banner."""
    return {
        name: [
            line
            for line in (logs / f"{name}.log").read_text().splitlines()
            if line.strip() and not line.startswith("=== ")
        ]
        for name in PROCESSES
    }


def test_every_log_line_is_json_with_ids_and_no_secret(platform: RunningPlatform) -> None:
    operator_key = platform.credentials["operator_key"]
    request_id = "req-logs-" + secrets.token_hex(4)
    with httpx.Client(base_url=platform.gateway_url, timeout=30.0, trust_env=False) as gateway:
        created = gateway.post(
            "/api/v1/tenants",
            json={"name": f"logs-{secrets.token_hex(4)}"},
            headers={"X-AOS-Key": operator_key},
        )
        assert created.status_code == 201, created.text
        tenant_id, api_key = created.json()["id"], created.json()["initial_api_key"]["key"]
        for path in ("/api/v1/tenant", "/api/v1/audit/tree-head", "/api/v1/cost/summary"):
            gateway.get(path, headers={"X-AOS-Key": api_key, "X-Request-ID": request_id})
        gateway.get("/api/v1/tenant", headers={"X-AOS-Key": "aos_sk_wrong" + api_key[12:]})
        traced = gateway.get(
            "/api/v1/tenant", params={"api_key": api_key}, headers={"X-AOS-Key": api_key}
        )
        assert traced.status_code == 200
    time.sleep(1.0)  # uvicorn writes an access line when the response is sent; let files flush

    logs = _lines(platform.data_dir / "logs")
    entries = {}
    for name, lines in logs.items():
        assert lines, f"{name} wrote nothing"
        for line in lines:
            for secret in (api_key, operator_key, platform.internal_secret):
                assert secret not in line, f"{name} logged a secret: {line[:120]}"
            entry = json.loads(line)  # every line, start-up lines included
            assert {
                "time",
                "level",
                "logger",
                "message",
                "request_id",
                "tenant_id",
                "trace_id",
            } <= set(entry)
            entries.setdefault(name, []).append(entry)
    ours = [
        e for e in entries["tenants"]
        if e["logger"] == "uvicorn.access" and e["request_id"] == request_id
        and e["path"] == "/api/v1/tenant"
    ]  # fmt: skip
    assert [e["status"] for e in ours] == [200]
    assert {e["tenant_id"] for e in ours} == {tenant_id}
    assert all(len(e["trace_id"] or "") == 32 for e in ours)
    assert any(
        e["logger"] == "uvicorn.access" and e.get("path", "").startswith("/api/v1/audit")
        for e in entries["audit-ledger"]
    )
