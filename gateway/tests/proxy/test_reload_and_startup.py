"""Hot reload without dropping in-flight requests, and start-up errors that name the problem."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_testing.processes import Process, gateway
from gateway_testing.stacks import Stack

DOCUMENT = """
http:
  routers:
    first:
      rule: "PathPrefix(`/first`)"
      service: one
{extra}
  services:
    one:
      loadBalancer:
        servers: [{{url: "{one}"}}]
    two:
      loadBalancer:
        servers: [{{url: "{two}"}}]
"""
SECOND_ROUTER = """    second:
      rule: "PathPrefix(`/second`)"
      service: two
"""


@pytest.fixture(scope="module")
def reloading(
    lab: Stack, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Process, Path, dict[str, str]]]:
    """A third gateway over the lab's upstreams, re-reading its document every 100 ms."""
    logs = tmp_path_factory.mktemp("reload")
    urls = {"one": lab.urls["alpha"], "two": lab.urls["breaker"]}
    document = logs / "dynamic.yml"
    document.write_text(DOCUMENT.format(extra="", **urls))
    proxy = gateway(
        document,
        logs,
        {"AOS_REDIS_URL": redis_url, "AOS_GATEWAY_RELOAD_SECONDS": "0.1"},
        name="reload-gateway",
    )
    proxy.start()
    try:
        proxy.wait_ready()
        yield proxy, document, urls
    finally:
        proxy.stop()


def _eventually(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_reload_applies_a_new_router_without_dropping_in_flight_requests(
    reloading: tuple[Process, Path, dict[str, str]],
) -> None:
    proxy, document, urls = reloading
    assert httpx.get(proxy.url + "/second").status_code == 404
    in_flight: list[httpx.Response] = []
    slow = threading.Thread(
        target=lambda: in_flight.append(httpx.get(proxy.url + "/first?sleep=1.0", timeout=10))
    )
    slow.start()
    time.sleep(0.2)
    document.write_text(DOCUMENT.format(extra=SECOND_ROUTER, **urls))
    _eventually(lambda: httpx.get(proxy.url + "/second").status_code == 200)
    assert httpx.get(proxy.url + "/second").json()["service"] == "breaker"
    slow.join()
    assert in_flight[0].status_code == 200
    assert in_flight[0].json()["service"] == "alpha"


def test_a_broken_document_on_reload_keeps_the_running_configuration(
    reloading: tuple[Process, Path, dict[str, str]],
) -> None:
    proxy, document, urls = reloading
    document.write_text(
        DOCUMENT.format(extra=SECOND_ROUTER, **urls).replace(
            "PathPrefix(`/first`)", "PathPrefx(`/first`)"
        )
    )
    _eventually(
        lambda: (
            'aos_gateway_config_reloads_total{result="error"}'
            in httpx.get(proxy.url + "/metrics").text
        )
    )
    assert httpx.get(proxy.url + "/first").status_code == 200
    document.write_text(DOCUMENT.format(extra="", **urls))


def test_unknown_middleware_kind_stops_the_gateway_at_start_naming_it(tmp_path: Path) -> None:
    from aos_gateway.config import ConfigError
    from aos_gateway.main import create_app
    from aos_gateway.settings import GatewaySettings

    document = tmp_path / "bad.yml"
    document.write_text(
        "http:\n  middlewares:\n    squeeze:\n      compress: {}\n  routers: {}\n  services: {}\n"
    )
    with pytest.raises(
        ConfigError, match="middleware 'squeeze': unknown middleware kind 'compress'"
    ):
        create_app(GatewaySettings(gateway_config=str(document)))


def test_bad_rule_stops_the_gateway_at_start_naming_the_router(tmp_path: Path) -> None:
    from aos_gateway.config import ConfigError
    from aos_gateway.main import create_app
    from aos_gateway.settings import GatewaySettings

    document = tmp_path / "bad.yml"
    document.write_text(
        "http:\n  routers:\n    broken:\n      rule: 'Path(`/x`) ||'\n      service: s\n"
        "  services:\n    s: {loadBalancer: {servers: [{url: 'http://127.0.0.1:1'}]}}\n"
    )
    with pytest.raises(ConfigError, match="router 'broken': bad rule"):
        create_app(GatewaySettings(gateway_config=str(document)))
