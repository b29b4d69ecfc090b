"""The policies the Kubernetes ingress relies on the gateway for (tests/deploy/test_edge.py shows
every API path reaches the services only through it), enforced on the gateway of `aos up`:
a key's own per-minute limit (429 with Retry-After) and a hard budget at run start (402)."""

from __future__ import annotations

import secrets

import httpx

from aos_cli.testing import RunningPlatform


def _tenant(gateway: httpx.Client, platform: RunningPlatform) -> dict[str, str]:
    created = gateway.post(
        "/api/v1/tenants",
        json={"name": f"edge-{secrets.token_hex(4)}"},
        headers={"X-AOS-Key": platform.credentials["operator_key"]},
    )
    assert created.status_code == 201, created.text
    return {"X-AOS-Key": created.json()["initial_api_key"]["key"]}


def test_a_keys_rate_limit_and_a_hard_budget_hold_at_the_gateway(platform: RunningPlatform) -> None:
    with httpx.Client(base_url=platform.gateway_url, timeout=30.0, trust_env=False) as gateway:
        admin = _tenant(gateway, platform)
        limited = gateway.post(
            "/api/v1/tenant/api-keys", json={"name": "two-per-minute", "rate_limit_rpm": 2},
            headers=admin,
        )  # fmt: skip
        assert limited.status_code == 201, limited.text
        key = {"X-AOS-Key": limited.json()["key"]}
        statuses = [gateway.get("/api/v1/tenant", headers=key).status_code for _ in range(4)]
        assert statuses[:2] == [200, 200] and statuses[-1] == 429, statuses
        refused = gateway.get("/api/v1/tenant", headers=key)
        assert refused.status_code == 429
        assert "rate limit" in refused.json()["detail"].lower()
        assert int(refused.headers["Retry-After"]) >= 1
        assert gateway.get("/api/v1/tenant", headers=admin).status_code == 200  # only that key

        worker_id = gateway.get("/api/v1/workers", headers=admin).json()[0]["id"]
        budget = gateway.post(
            "/api/v1/cost/budgets",
            json={"budget_type": "tenant", "daily_limit_cents": 1, "hard_limit_enabled": True},
            headers=admin,
        )
        assert budget.status_code in (200, 201), budget.text
        spent = gateway.post(
            "/api/v1/cost/record", json={"model": "gpt-4o", "cost_cents": "5"}, headers=admin
        )
        assert spent.status_code == 201, spent.text
        run = gateway.post(
            "/api/v1/runs", json={"worker_id": worker_id, "task": "over budget"}, headers=admin
        )
        assert run.status_code == 402, run.text
        assert run.json()["detail"] == f"Budget exhausted: {budget.json()['id']}"
