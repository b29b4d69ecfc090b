"""Domain counters on each service's /metrics under `aos up`: cost recorded (cents by model) and
tokens by type at cost-intel, ledger entries at audit-ledger, steps at traces, exports at
guard-logs; read before and after the requests that should move them."""

from __future__ import annotations

import secrets
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from aos_cli.testing import RunningPlatform

EVENTUAL_SECONDS = 20.0


def _sample(url: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10, trust_env=False).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def _eventually(read: object, expected: float) -> float:
    deadline = time.monotonic() + EVENTUAL_SECONDS
    while True:
        value = read()  # type: ignore[operator]
        if value >= expected or time.monotonic() > deadline:
            return float(value)
        time.sleep(0.25)


def test_cost_tokens_ledger_and_export_counters_move(platform: RunningPlatform) -> None:
    urls = platform.service_urls
    model = "metrics-model-" + secrets.token_hex(3)
    with httpx.Client(base_url=platform.gateway_url, timeout=30.0, trust_env=False) as gateway:
        created = gateway.post(
            "/api/v1/tenants",
            json={"name": f"metrics-{secrets.token_hex(4)}"},
            headers={"X-AOS-Key": platform.credentials["operator_key"]},
        )
        assert created.status_code == 201, created.text
        key = {"X-AOS-Key": created.json()["initial_api_key"]["key"]}
        input_before = _sample(urls["cost-intel"], "aos_tokens_total", type="input")
        entries_before = _sample(urls["audit-ledger"], "aos_ledger_entries_total")
        exports_before = _sample(urls["guard-logs"], "aos_exports_total", kind="ndjson")
        recorded = gateway.post(
            "/api/v1/cost/record",
            json={"model": model, "input_tokens": 1200, "output_tokens": 300, "cost_cents": "12.5"},
            headers=key,
        )
        assert recorded.status_code == 201, recorded.text
        appended = gateway.post(
            "/api/v1/audit/entries",
            json={
                "event_type": "PolicyRuleCreated",
                "entity_type": "POLICY_RULE",
                "entity_id": "rule_metrics",
                "actor_type": "HUMAN",
                "actor_id": "user_1",
            },
            headers=key,
        )
        assert appended.status_code == 201, appended.text
        exported = gateway.get(
            "/api/v1/guard/logs/export", params={"format": "ndjson"}, headers=key
        )
        assert exported.status_code == 200, exported.text

    assert _sample(urls["cost-intel"], "aos_cost_recorded_cents_total", model=model) == 12.5
    assert _sample(urls["cost-intel"], "aos_tokens_total", type="input") >= input_before + 1200
    assert (
        _eventually(
            lambda: _sample(urls["audit-ledger"], "aos_ledger_entries_total"), entries_before + 1
        )
        >= entries_before + 1
    )
    assert _sample(urls["guard-logs"], "aos_exports_total", kind="ndjson") == exports_before + 1
