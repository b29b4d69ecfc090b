"""Session fixtures: the `platform` and `lab` gateways described in gateway_testing.stacks."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from gateway_testing.processes import Process, gateway, standin, standins
from gateway_testing.real import Real, real_platform
from gateway_testing.stacks import DYNAMIC_YML, LAB_DOCUMENT, SECRET, SERVICES, Stack


def _start_all(processes: list[Process]) -> None:
    for process in processes:
        process.start()
    for process in processes:
        process.wait_ready()


@pytest.fixture(scope="session")
def platform(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("platform")
    shared = standins(list(SERVICES), logs, SECRET)
    upstreams: dict[str, Process] = {name: shared for name in SERVICES}
    env = {
        "AOS_REDIS_URL": redis_url,
        "AOS_INTERNAL_SECRET": SECRET,
        "AOS_GATEWAY_REDIS_PREFIX": f"aos:gwtest:{secrets.token_hex(4)}",
        "AOS_TELEMETRY_ENABLED": "false",
    }
    for name in SERVICES:
        env[f"AOS_{name.upper().replace('-', '_')}_URL"] = shared.url_of(name)
    proxy = gateway(DYNAMIC_YML, logs, env, name="platform-gateway")
    everything = [shared, proxy]
    try:
        _start_all(everything)
        yield Stack(proxy, upstreams, {n: shared.url_of(n) for n in SERVICES})
    finally:
        for process in everything:
            process.stop()


@pytest.fixture(scope="session")
def lab(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("lab")
    shared = standins(["alpha", "breaker"], logs, SECRET)
    flaky = standin("flaky", logs, SECRET)
    upstreams: dict[str, Process] = {"alpha": shared, "breaker": shared, "flaky": flaky}
    urls = {
        "alpha": shared.url_of("alpha"),
        "breaker": shared.url_of("breaker"),
        "flaky": flaky.url,
    }
    document = logs / "lab.yml"
    document.write_text(LAB_DOCUMENT.format(**urls))
    env = {
        "AOS_REDIS_URL": redis_url,
        "AOS_INTERNAL_SECRET": SECRET,
        "AOS_GATEWAY_REDIS_PREFIX": f"aos:gwtest:{secrets.token_hex(4)}",
        "AOS_UPSTREAM_TIMEOUT_SECONDS": "1",
        "AOS_PASSIVE_EJECTION_SECONDS": "60",
        "AOS_COST_INTEL_URL": urls["alpha"],
    }
    proxy = gateway(document, logs, env, name="lab-gateway")
    everything = [shared, flaky, proxy]
    try:
        _start_all(everything)
        yield Stack(proxy, upstreams, urls)
    finally:
        for process in everything:
            process.stop()


@pytest.fixture(scope="session")
def real(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Real]:
    with real_platform(database_url, redis_url, tmp_path_factory.mktemp("real")) as stack:
        yield stack
