"""No tenant can take an API area down for the others (issue 13): errors one tenant's input
provokes stay that tenant's (a real gateway in front of the five real services), and a tenant's
flood is refused past its concurrency share (the shipped document in front of stand-ins)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from gateway_testing.real import Real, new_tenant
from gateway_testing.stacks import Stack


@pytest.fixture(scope="module")
def victim(real: Real) -> dict[str, Any]:
    return new_tenant(real, "Victim")


@pytest.fixture(scope="module")
def attacker(real: Real) -> dict[str, Any]:
    return new_tenant(real, "Attacker")


def _key(tenant: dict[str, Any]) -> dict[str, str]:
    return {"X-AOS-Key": tenant["initial_api_key"]["key"]}


def test_errors_one_tenant_provokes_leave_the_area_open_for_another(
    real: Real, victim: dict[str, Any], attacker: dict[str, Any]
) -> None:
    with httpx.Client(base_url=real.url, timeout=30) as client:
        assert client.get("/api/v1/guard/logs", headers=_key(victim)).status_code == 200
        provoked = [
            client.get("/api/v1/guard/logs?agent_id=%00", headers=_key(attacker)).status_code
            for _ in range(20)
        ]
        served = client.get("/api/v1/guard/logs", headers=_key(victim))
    assert served.status_code == 200, (provoked, served.text)
    assert "x-aos-circuit" not in served.headers


QUIET = {"X-AOS-Key": "aos_good"}
NOISY = {"X-AOS-Key": "aos_noisy"}
LIMITS = httpx.Limits(max_connections=100)


async def _flood(client: httpx.AsyncClient, path: str, stop: asyncio.Event) -> Counter[int]:
    """Requests back to back until told to stop, as a client ignoring every Retry-After would."""
    seen: Counter[int] = Counter()
    while not stop.is_set():
        seen[(await client.get(path, headers=NOISY)).status_code] += 1
    return seen


async def test_a_tenant_flooding_a_service_slows_itself_not_its_neighbour(platform: Stack) -> None:
    """Tenant B keeps more requests in flight to traces than its share, each holding a slot of the
    service's finite capacity (24 here, like a database pool) for 6 s, and floods it with requests
    the service answers 503; tenant A, using the same service meanwhile, sees no error and does not
    queue behind B (generous bound: a behaviour check, not a benchmark)."""
    stop = asyncio.Event()
    async with (
        httpx.AsyncClient(base_url=platform.url, timeout=60, limits=LIMITS) as noisy,
        httpx.AsyncClient(base_url=platform.url, timeout=60) as quiet,
    ):
        floods = [
            asyncio.create_task(_flood(noisy, "/api/v1/traces/slow?hold=6", stop))
            for _ in range(24)
        ] + [
            asyncio.create_task(_flood(noisy, "/api/v1/traces/bad?status=503", stop))
            for _ in range(2)
        ]
        await asyncio.sleep(1.5)  # the flood is under way
        latencies: list[float] = []
        errors: list[int] = []
        for _ in range(10):
            started = time.perf_counter()
            response = await quiet.get("/api/v1/traces/work?hold=0.05", headers=QUIET)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors.append(response.status_code)
        stop.set()
        noisy_seen = sum(await asyncio.gather(*floods), Counter())
    assert errors == [], f"tenant A got {errors} while B flooded"
    assert max(latencies) < 3.0, f"tenant A waited {sorted(latencies)} s while B flooded"
    assert noisy_seen[429] > 0, f"tenant B was never refused: {dict(noisy_seen)}"
