"""The circuit breaker's states, on a fake clock (no sleeping, no timing assertions)."""

from __future__ import annotations

from gateway_testing.stacks import DYNAMIC_YML

from aos_common.auth import Principal
from aos_gateway.cb_expression import Predicate, parse_expression
from aos_gateway.config import load_config
from aos_gateway.config.models import CircuitBreaker
from aos_gateway.middlewares.breaker import (
    RECOVERING,
    STANDBY,
    TRIPPED,
    BreakerStats,
    CircuitBreakerMiddleware,
)
from aos_gateway.proxy.types import Body, Headers, ProxyRequest, ProxyResponse


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _request(tenant: str = "tnt_a") -> ProxyRequest:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    request = ProxyRequest(
        "GET",
        "/x",
        b"",
        Headers(),
        Body(receive, None, False),
        "http",
        "h",
        "127.0.0.1",
        "req-test",
    )
    request.principal = Principal(
        tenant_id=tenant, principal_id="key", principal_type="api_key", roles=["developer"]
    )
    return request


def _breaker(clock: Clock, max_circuits: int = 100) -> CircuitBreakerMiddleware:
    spec = CircuitBreaker(
        expression="ResponseCodeRatio(500, 600, 0, 600) > 0.5",
        checkPeriod="0s",
        fallbackDuration="10s",
        recoveryDuration="10s",
    )
    return CircuitBreakerMiddleware(
        spec, parse_expression(spec.expression), "svc", clock=clock, max_circuits=max_circuits
    )


async def test_breaker_trips_when_the_expression_holds_and_rejects_with_503() -> None:
    clock = Clock()
    breaker = _breaker(clock)

    async def failing(_: ProxyRequest) -> ProxyResponse:
        return ProxyResponse(500, Headers())

    for _ in range(3):
        await breaker(_request(), failing)
    assert breaker.circuit("tnt_a").state == TRIPPED
    rejected = await breaker(_request(), failing)
    assert rejected.status == 503
    assert rejected.headers.get("retry-after") == "10"


async def test_breaker_recovers_then_closes_after_the_recovery_duration() -> None:
    clock = Clock()
    breaker = _breaker(clock)

    async def failing(_: ProxyRequest) -> ProxyResponse:
        return ProxyResponse(500, Headers())

    async def healthy(_: ProxyRequest) -> ProxyResponse:
        return ProxyResponse(200, Headers())

    await breaker(_request(), failing)
    assert breaker.circuit("tnt_a").state == TRIPPED
    clock.now += 10
    await breaker(_request(), healthy)
    assert breaker.circuit("tnt_a").state == RECOVERING
    clock.now += 10
    response = await breaker(_request(), healthy)
    assert breaker.circuit("tnt_a").state == STANDBY and response.status == 200


async def test_breaker_trips_again_when_failing_while_recovering() -> None:
    clock = Clock()
    breaker = _breaker(clock)

    async def failing(_: ProxyRequest) -> ProxyResponse:
        return ProxyResponse(502, Headers())

    await breaker(_request(), failing)
    clock.now += 10
    for _ in range(200):
        await breaker(_request(), failing)
        if breaker.circuit("tnt_a").state == TRIPPED:
            break
    assert breaker.circuit("tnt_a").state == TRIPPED


async def test_one_tenants_failures_leave_another_tenants_circuit_closed() -> None:
    clock = Clock()
    breaker = _breaker(clock)

    async def answer(request: ProxyRequest) -> ProxyResponse:
        failing = request.principal is not None and request.principal.tenant_id == "tnt_b"
        return ProxyResponse(502 if failing else 200, Headers())

    for _ in range(20):
        await breaker(_request("tnt_b"), answer)
    assert breaker.circuit("tnt_b").state == TRIPPED
    assert (await breaker(_request("tnt_b"), answer)).status == 503
    assert (await breaker(_request("tnt_a"), answer)).status == 200
    assert breaker.circuit("tnt_a").state == STANDBY
    assert breaker.open_count() == 1


async def test_circuits_are_bounded_forgetting_the_least_recently_used() -> None:
    breaker = _breaker(Clock(), max_circuits=3)

    async def healthy(_: ProxyRequest) -> ProxyResponse:
        return ProxyResponse(200, Headers())

    for tenant in ("t1", "t2", "t3", "t1", "t4"):
        await breaker(_request(tenant), healthy)
    assert list(breaker.circuits) == ["t3", "t1", "t4"]


def test_stats_window_forgets_outcomes_older_than_ten_seconds() -> None:
    clock = Clock()
    stats = BreakerStats(clock=clock)
    stats.record(500, False, 1.0)
    stats.record(0, True, 1.0)
    assert stats.network_error_ratio() == 0.5
    assert stats.response_code_ratio(500, 600, 0, 600) == 1.0
    clock.now += 11
    assert stats.network_error_ratio() == 0.0


def test_latency_quantile_reads_the_window() -> None:
    stats = BreakerStats(clock=Clock())
    for latency in (1, 2, 3, 4, 100):
        stats.record(200, False, float(latency))
    assert stats.latency_at_quantile_ms(50) == 3
    assert stats.latency_at_quantile_ms(99) == 100


def _shipped_predicate() -> Predicate:
    return load_config(DYNAMIC_YML).breaker_predicates["circuit-breaker"]


def test_shipped_breaker_expression_ignores_500_answers() -> None:
    stats = BreakerStats(clock=Clock())
    for _ in range(20):
        stats.record(500, False, 1.0)
    assert not _shipped_predicate()(stats)


def test_shipped_breaker_expression_counts_502_to_504_and_network_errors() -> None:
    predicate = _shipped_predicate()
    for status in (502, 503, 504):
        stats = BreakerStats(clock=Clock())
        for _ in range(3):
            stats.record(status, False, 1.0)
        assert predicate(stats), status
    stats = BreakerStats(clock=Clock())
    stats.record(0, True, 1.0)
    assert predicate(stats)
