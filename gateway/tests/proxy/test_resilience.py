"""Failure handling through a real gateway: dead upstreams, timeouts, the circuit breaker."""

from __future__ import annotations

import time

import httpx
from gateway_testing.stacks import Stack


def _wait_for(predicate, timeout: float) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")


def test_killed_upstream_gives_503_with_retry_after_fast_and_recovers(lab: Stack) -> None:
    flaky = lab.upstreams["flaky"]
    assert httpx.get(lab.url + "/flaky/x").status_code == 200
    flaky.kill()
    try:
        started = time.monotonic()
        response = httpx.get(lab.url + "/flaky/x")
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.json()["detail"] == "Upstream flaky unavailable"
        assert int(response.headers["retry-after"]) >= 1
        assert elapsed < 1.0
    finally:
        flaky.start()
        flaky.wait_ready()
    _wait_for(lambda: httpx.get(lab.url + "/flaky/x").status_code == 200, timeout=5)


def test_upstream_timeout_gives_504(lab: Stack) -> None:
    response = httpx.get(lab.url + "/open/slow?sleep=2", timeout=10)
    assert response.status_code == 504
    assert response.json()["detail"] == "Upstream alpha timed out"


def test_circuit_breaker_opens_on_errors_and_closes_after_recovery(lab: Stack) -> None:
    upstream = lab.urls["breaker"]
    httpx.get(upstream + "/_mode?status=500")
    try:

        def tripped() -> bool:
            return httpx.get(lab.url + "/breaker/x").headers.get("x-aos-circuit") == "open"

        _wait_for(tripped, timeout=5)
        rejected = httpx.get(lab.url + "/breaker/x")
        assert rejected.status_code == 503
        assert rejected.json()["detail"] == "Upstream breaker unavailable"
        assert "retry-after" in rejected.headers
    finally:
        httpx.get(upstream + "/_mode?status=200")

    def closed() -> bool:
        response = httpx.get(lab.url + "/breaker/x")
        return response.status_code == 200 and "x-aos-circuit" not in response.headers

    _wait_for(closed, timeout=5)
    time.sleep(0.6)
    assert all(httpx.get(lab.url + "/breaker/x").status_code == 200 for _ in range(5))


def test_retry_does_not_repeat_a_post(lab: Stack) -> None:
    flaky = lab.upstreams["flaky"]
    flaky.kill()
    try:
        started = time.monotonic()
        response = httpx.post(lab.url + "/flaky/x", json={})
        assert response.status_code == 503
        assert time.monotonic() - started < 0.1 + 0.5
    finally:
        flaky.start()
        flaky.wait_ready()
    _wait_for(lambda: httpx.get(lab.url + "/flaky/x").status_code == 200, timeout=5)
