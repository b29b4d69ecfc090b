"""The circuit breaker's states, on a fake clock (no sleeping, no timing assertions)."""

from __future__ import annotations

from aos_gateway.cb_expression import parse_expression
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


def _request() -> ProxyRequest:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    return ProxyRequest(
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


def _breaker(clock: Clock) -> CircuitBreakerMiddleware:
    spec = CircuitBreaker(
        expression="ResponseCodeRatio(500, 600, 0, 600) > 0.5",
        checkPeriod="0s",
        fallbackDuration="10s",
        recoveryDuration="10s",
    )
    return CircuitBreakerMiddleware(spec, parse_expression(spec.expression), "svc", clock=clock)


async def test_breaker_trips_when_the_expression_holds_and_rejects_with_503() -> None:
    clock = Clock()
    breaker = _breaker(clock)

    async def failing(_: ProxyRequest) -> ProxyResponse:
        return ProxyResponse(500, Headers())

    for _ in range(3):
        await breaker(_request(), failing)
    assert breaker.state == TRIPPED
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
    assert breaker.state == TRIPPED
    clock.now += 10
    await breaker(_request(), healthy)
    assert breaker.state == RECOVERING
    clock.now += 10
    response = await breaker(_request(), healthy)
    assert breaker.state == STANDBY and response.status == 200


async def test_breaker_trips_again_when_failing_while_recovering() -> None:
    clock = Clock()
    breaker = _breaker(clock)

    async def failing(_: ProxyRequest) -> ProxyResponse:
        return ProxyResponse(502, Headers())

    await breaker(_request(), failing)
    clock.now += 10
    for _ in range(200):
        await breaker(_request(), failing)
        if breaker.state == TRIPPED:
            break
    assert breaker.state == TRIPPED


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
