"""The SDK against the real tenants and traces services (uvicorn, real Postgres and Redis).

Each app runs under uvicorn on a free port in a background thread (the sync client needs real
sockets). A LossyProxy in front of each service drops chosen answers after the service did the
work, so the SDK's retries meet a server that already stored the write.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sdk_live import LossyProxy, UvicornThread, free_port

from aos_sdk import (
    AOSClient,
    AsyncAOSClient,
    BudgetExceededError,
    QuotaExceededError,
    TraceRecorder,
)

pytest.importorskip("aos_tenants.runs.api")
pytest.importorskip("aos_traces.main")

WORKER = "support-triage"


@dataclass
class Platform:
    tenants: UvicornThread
    traces: UvicornThread
    tenants_proxy: LossyProxy
    traces_proxy: LossyProxy
    operator_key: str
    cost: UvicornThread | None = None
    cost_proxy: LossyProxy | None = None

    def services(self, *, lossy: bool = False) -> dict[str, str]:
        urls = {"tenants": self.tenants.url, "traces": self.traces.url}
        if self.cost is not None:
            urls["cost-intel"] = self.cost.url
        if lossy:
            urls = {"tenants": self.tenants_proxy.url, "traces": self.traces_proxy.url}
            if self.cost_proxy is not None:
                urls["cost-intel"] = self.cost_proxy.url
        return urls

    def new_tenant(self, **limits: Any) -> tuple[str, str]:
        """A fresh tenant (tests isolate by tenant) -> (tenant id, admin API key)."""
        headers = {"X-AOS-Key": self.operator_key}
        name = f"sdk-{secrets.token_hex(4)}"
        created = httpx.post(
            f"{self.tenants.url}/api/v1/tenants", json={"name": name}, headers=headers
        )
        assert created.status_code == 201, created.text
        body = created.json()
        body = body.get("data", body)
        key = body["initial_api_key"]
        key = key["key"] if isinstance(key, dict) else key
        if limits:
            patched = httpx.patch(
                f"{self.tenants.url}/api/v1/tenants/{body['id']}", json=limits, headers=headers
            )
            assert patched.status_code == 200, patched.text
        return body["id"], key


@pytest.fixture(scope="module")
def platform(database_url: str, redis_url: str) -> Iterator[Platform]:
    from aos_common.testing import migrate
    from aos_tenants.main import create_app as tenants_app
    from aos_tenants.settings import TenantsSettings
    from aos_traces.main import create_app as traces_app
    from aos_traces.settings import TracesSettings

    migrate("aos_tenants", database_url)
    migrate("aos_traces", database_url)
    ports = {name: free_port() for name in ("tenants", "traces", "cost-intel")}
    dead = f"http://127.0.0.1:{free_port()}"
    cost_app = _cost_intel_app(database_url)
    operator_key = "aos_op_" + secrets.token_hex(16)
    common: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "environment": "test",
        "operator_key": operator_key,
        "tenants_url": f"http://127.0.0.1:{ports['tenants']}",
        "traces_url": f"http://127.0.0.1:{ports['traces']}",
        "cost_intel_url": f"http://127.0.0.1:{ports['cost-intel']}" if cost_app else dead,
        "audit_ledger_url": dead,
        "guard_logs_url": dead,
        "telemetry_enabled": False,
        "database_pool_size": 3,
    }
    servers = [
        UvicornThread(
            tenants_app(TenantsSettings(**common, port=ports["tenants"])), ports["tenants"]
        ),
        UvicornThread(traces_app(TracesSettings(**common, port=ports["traces"])), ports["traces"]),
    ]
    if cost_app is not None:
        create, settings_cls = cost_app
        servers.append(
            UvicornThread(
                create(settings_cls(**common, port=ports["cost-intel"])), ports["cost-intel"]
            )
        )
    for server in servers:
        server.start()
    proxies = [LossyProxy(server.url) for server in servers]
    try:
        yield Platform(
            servers[0],
            servers[1],
            proxies[0],
            proxies[1],
            operator_key,
            servers[2] if cost_app else None,
            proxies[2] if cost_app else None,
        )
    finally:
        for proxy in proxies:
            proxy.close()
        for server in reversed(servers):
            server.stop()


def _cost_intel_app(database_url: str) -> tuple[Any, Any] | None:
    """cost-intel joins the platform when its package is importable and migrates (optional)."""
    try:
        from aos_common.testing import migrate
        from aos_cost_intel.main import create_app
        from aos_cost_intel.settings import CostIntelSettings

        migrate("aos_cost_intel", database_url)
    except Exception:
        return None
    return create_app, CostIntelSettings


def _client(platform: Platform, key: str, *, lossy: bool = False) -> AOSClient:
    client = AOSClient(key, services=platform.services(lossy=lossy), max_retries=3, timeout=30.0)
    client._sleep = lambda _s: None
    return client


def _independent_root(trace: dict[str, Any]) -> str:
    def sha(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    chain = sha(f"{trace['seed']}:{trace['frozen_timestamp']}:{trace['tenant_id']}")
    for s in sorted(trace["steps"], key=lambda s: s["step_index"]):
        payload = {
            "step_index": s["step_index"],
            "skill_id": s["skill_id"],
            "input_hash": s["input_hash"],
            "output_hash": s["output_hash"],
            "rng_state_before": s["rng_state_before"],
            "outcome": s["status"] if s["status"] in ("success", "skipped") else "failure",
            "idempotency_key": s["idempotency_key"],
            "replay_behavior": s["replay_behavior"],
        }
        chain = sha(chain + ":" + sha(json.dumps(payload, sort_keys=True, separators=(",", ":"))))
    return chain


def _three_step_run(client: AOSClient) -> Any:
    with client.run(WORKER, "Triage ticket #1") as run:
        for i, skill in enumerate(["classify", "lookup", "draft"]):
            with run.step(skill, {"ticket": 1, "i": i, "note": "é ✓"}) as step:
                step.output = {"result": skill, "i": i}
                step.tokens = 100
    return run


def test_three_step_run_stores_a_trace_whose_server_hash_equals_the_local_hash(
    platform: Platform,
) -> None:
    tenant_id, key = platform.new_tenant()
    with _client(platform, key) as client:
        run = _three_step_run(client)
        stored = client.get_trace(run.id)
    assert run.server_root_hash == run.root_hash
    assert stored["root_hash"] == run.root_hash == _independent_root(stored)
    assert stored["tenant_id"] == tenant_id and stored["run_id"] == run.id
    assert [s["skill_id"] for s in stored["steps"]] == ["classify", "lookup", "draft"]
    assert all(s["status"] == "success" for s in stored["steps"])


def test_failed_step_is_stored_as_failure_and_the_run_as_failed(platform: Platform) -> None:
    _, key = platform.new_tenant()
    with _client(platform, key) as client:
        with pytest.raises(RuntimeError), client.run(WORKER, "t") as run:
            with run.step("ok", {}) as step:
                step.output = "fine"
            with run.step("boom", {"x": 1}):
                raise RuntimeError("tool crashed")
        stored = client.get_trace(run.id)
        runs = client.request("GET", "/api/v1/runs", params={"limit": 5})
    assert stored["root_hash"] == run.root_hash
    assert stored["steps"][1]["status"] == "failure" and stored["steps"][1]["level"] == "ERROR"
    listed = runs if isinstance(runs, list) else runs.get("items", runs)
    assert [r["status"] for r in listed if r["id"] == run.id] == ["failed"]


def test_lost_answers_are_retried_without_duplicating_runs_traces_or_tokens(
    platform: Platform,
) -> None:
    _, key = platform.new_tenant()
    platform.tenants_proxy.lose("POST", "/api/v1/runs")
    platform.tenants_proxy.lose("PATCH", "/api/v1/runs/")
    platform.traces_proxy.lose("POST", "/api/v1/traces", exact=True)
    with _client(platform, key, lossy=True) as lossy:
        run = _three_step_run(lossy)
    for proxy, method, path in (
        (platform.tenants_proxy, "POST", "/api/v1/runs"),
        (platform.tenants_proxy, "PATCH", f"/api/v1/runs/{run.id}"),
        (platform.traces_proxy, "POST", "/api/v1/traces"),
    ):
        keys = [
            h.get("Idempotency-Key")
            for h in proxy.seen(method, path, exact=True)
            if h.get("X-AOS-Key") == key
        ]
        assert len(keys) == 2 and keys[0] == keys[1], (method, path)
    with _client(platform, key) as client:
        runs = client.request("GET", "/api/v1/runs", params={"limit": 100})
        listed = runs if isinstance(runs, list) else runs.get("items", runs)
        traces = client.request("GET", "/api/v1/traces", params={"run_id": run.id})
        tenant = client.tenant()
    assert [r["id"] for r in listed] == [run.id]
    assert listed[0]["status"] == "succeeded" and listed[0]["total_tokens"] == 300
    assert traces["total"] == 1 and traces["traces"][0]["root_hash"] == run.root_hash
    assert tenant["runs_today"] == 1
    assert tenant["tokens_this_month"] == 300


def test_daily_run_limit_refuses_with_the_quota_reason(platform: Platform) -> None:
    _, key = platform.new_tenant(max_runs_per_day=1)
    with _client(platform, key) as client:
        with client.run(WORKER, "first"):
            pass
        with pytest.raises(QuotaExceededError) as info, client.run(WORKER, "second"):
            pytest.fail("a refused run must not execute its block")
    assert info.value.status == 429
    assert info.value.reason == "Daily run limit (1) exceeded"


async def test_async_client_run_hash_matches_the_server(platform: Platform) -> None:
    _, key = platform.new_tenant()
    async with AsyncAOSClient(key, services=platform.services(), timeout=30.0) as client:
        async with client.run(WORKER, "async") as run:
            for i in range(3):
                async with run.step("s", {"i": i}) as step:
                    step.output = i
        stored = await client.get_trace(run.id)
    assert stored["root_hash"] == run.root_hash == run.server_root_hash


def test_opentelemetry_example_produces_a_trace_with_gen_ai_steps(platform: Platform) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    path = Path(__file__).resolve().parents[1] / "examples" / "otel_exporter.py"
    spec = importlib.util.spec_from_file_location("aos_otel_example_live", path)
    assert spec and spec.loader
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    _, key = platform.new_tenant()
    run_id = f"run_{secrets.token_hex(8)}"
    provider = example.build_tracer_provider(platform.traces.url, key, "support-bot")
    example.run_agent(provider, "refund policy", run_id=run_id)
    provider.shutdown()
    with _client(platform, key) as client:
        listed = client.request("GET", "/api/v1/traces", params={"agent_id": "support-bot"})
        assert listed["total"] == 1 and listed["traces"][0]["run_id"] == run_id
        stored = client.get_trace(run_id)
    assert [s["skill_id"] for s in stored["steps"]] == ["gen_ai.chat", "gen_ai.chat"]
    assert stored["steps"][0]["params"]["gen_ai.request.model"] == "gpt-4o-mini"
    assert stored["root_hash"] == _independent_root(stored)


def test_batched_traces_retried_after_a_lost_answer_are_stored_once(platform: Platform) -> None:
    tenant_id, key = platform.new_tenant()
    recorders = []
    for n in range(3):
        with TraceRecorder(tenant_id, WORKER, f"offline {n}") as rec:
            for i in range(2):
                with rec.step("s", {"n": n, "i": i}) as step:
                    step.output = n * i
        recorders.append(rec)
    platform.traces_proxy.lose("POST", "/api/v1/traces/batch")
    with _client(platform, key, lossy=True) as lossy:
        results = lossy.post_traces_batch([r.document() for r in recorders])
    assert [r["status"] for r in results] == ["stored"] * 3
    assert [r["root_hash"] for r in results] == [r.root_hash for r in recorders]
    with _client(platform, key) as client:
        listed = client.request("GET", "/api/v1/traces")
    assert listed["total"] == 3


def _run_costs(platform: Platform, tenant_id: str, run_id: str) -> dict[str, Any]:
    from aos_common.testing import principal_headers

    assert platform.cost is not None
    headers = principal_headers(tenant_id, principal_type="service", principal_id="svc_sdk_test")
    response = httpx.get(
        f"{platform.cost.url}/internal/v1/cost/runs/{run_id}",
        params={"tenant_id": tenant_id},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_cost_records_retried_after_lost_answers_are_stored_once(platform: Platform) -> None:
    if platform.cost is None or platform.cost_proxy is None:
        pytest.skip("cost-intel is not available")
    tenant_id, key = platform.new_tenant()
    platform.cost_proxy.lose("POST", "/api/v1/cost/record", exact=True)
    platform.cost_proxy.lose("POST", "/api/v1/cost/records/batch")
    with _client(platform, key, lossy=True) as lossy:
        with lossy.run(WORKER, "costly") as run:
            single = run.record_cost(
                "gpt-4o-mini", input_tokens=100, output_tokens=20, cost_cents=1.25
            )
        with lossy.cost_batcher(batch_size=2) as batcher:
            for i in range(3):
                batcher.add(
                    "gpt-4o-mini", workflow_id=run.id, request_id=f"{run.id}:{i}", cost_cents=0.5
                )
    assert single["status"] == "recorded"
    assert batcher.batches_sent == 2 and len(batcher.results) == 3
    keys = [
        h.get("Idempotency-Key")
        for h in platform.cost_proxy.seen("POST", "/api/v1/cost/record", exact=True)
    ]
    assert len(keys) == 2 and keys[0] == keys[1]
    costs = _run_costs(platform, tenant_id, run.id)
    assert len(costs["records"]) == 4
    assert float(costs["total_cost_cents"]) == pytest.approx(2.75)


def test_exhausted_hard_budget_refuses_the_run_with_402_and_the_budget_reason(
    platform: Platform,
) -> None:
    if platform.cost is None:
        pytest.skip("cost-intel is not available")
    _, key = platform.new_tenant()
    with _client(platform, key) as client:
        budget = client.request(
            "POST",
            "/api/v1/cost/budgets",
            json={"budget_type": "tenant", "daily_limit_cents": 1, "hard_limit_enabled": True},
        )
        client.record_cost("gpt-4o-mini", cost_cents=5)
        with pytest.raises(BudgetExceededError) as info, client.run(WORKER, "over budget"):
            pytest.fail("a refused run must not execute its block")
    assert info.value.status == 402
    assert info.value.reason == f"Budget exhausted: {budget['id']}"
