"""Gateway readiness depends on its configuration and Redis only (issue 17); an upstream that is
down costs its own routes (503 with Retry-After), never the whole edge."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from gateway_testing.processes import Process, gateway
from gateway_testing.stacks import Stack

from aos_common.testing.servers import PrivateRedis, private_redis

# Bounds a hang so that it fails the test; the probe itself is bounded at 0.5 s.
HANG_GUARD_SECONDS = 3.0

DOCUMENT = """
http:
  routers:
    alpha:
      rule: "PathPrefix(`/alpha`)"
      service: alpha
  services:
    alpha:
      loadBalancer:
        servers: [{{url: "{alpha}"}}]
"""


def _eventually(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def own_redis_gateway(
    lab: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Process, PrivateRedis]]:
    """A gateway over the lab's upstreams whose Redis the test may kill and start again."""
    logs = tmp_path_factory.mktemp("readiness")
    document = logs / "dynamic.yml"
    document.write_text(DOCUMENT.format(alpha=lab.urls["alpha"]))
    with private_redis() as redis:
        proxy = gateway(document, logs, {"AOS_REDIS_URL": redis.url}, name="readiness-gateway")
        proxy.start()
        try:
            proxy.wait_ready("/readyz")
            yield proxy, redis
        finally:
            proxy.stop()


def test_an_upstream_down_fails_its_routes_only_and_the_gateway_stays_ready(lab: Stack) -> None:
    flaky = lab.upstreams["flaky"]
    flaky.kill()
    try:
        _eventually(lambda: httpx.get(lab.url + "/readyz").json()["upstreams"]["flaky"] == "down")
        ready = httpx.get(lab.url + "/readyz", timeout=HANG_GUARD_SECONDS)
        refused = httpx.get(lab.url + "/flaky/x")
        served = httpx.get(lab.url + "/open/x")
    finally:
        flaky.start()
        flaky.wait_ready()
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"configuration": "ok", "redis": "ok"}
    assert refused.status_code == 503
    assert refused.json()["detail"] == "Upstream flaky unavailable"
    assert int(refused.headers["retry-after"]) >= 1
    assert served.status_code == 200
    _eventually(lambda: httpx.get(lab.url + "/flaky/x").status_code == 200)


def test_readiness_follows_redis_and_answers_when_it_is_gone(
    own_redis_gateway: tuple[Process, PrivateRedis],
) -> None:
    proxy, redis = own_redis_gateway
    assert httpx.get(proxy.url + "/readyz").status_code == 200
    redis.kill()
    try:
        gone = httpx.get(proxy.url + "/readyz", timeout=HANG_GUARD_SECONDS)
        assert gone.status_code == 503
        assert gone.headers["content-type"] == "application/problem+json"
        assert gone.headers["retry-after"] == "1"
        assert gone.json()["detail"] == "Not ready: redis unavailable"
        assert gone.json()["checks"]["configuration"] == "ok"
        assert httpx.get(proxy.url + "/alpha/x").status_code == 200  # requests still served
    finally:
        redis.start()
    _eventually(lambda: httpx.get(proxy.url + "/readyz").status_code == 200)
