"""`aos up` supervises: a service killed with SIGKILL comes back and serves while the others keep
serving; Ctrl-C afterwards still stops everything (test_platform's platform_shutdown test)."""

from __future__ import annotations

import json
import os
import signal
import time

import httpx

from aos_cli.testing import RunningPlatform, alive

# Generous: a restart is ~1 s of backoff plus a service start on a shared, loaded machine.
COMEBACK_LIMIT_SECONDS = 90.0


def current_pid(platform: RunningPlatform, name: str) -> int:
    state = json.loads((platform.data_dir / "run.json").read_text())
    return int(state["processes"][name]["pid"])


def test_a_service_killed_with_sigkill_comes_back_and_serves(platform: RunningPlatform) -> None:
    urls = platform.service_urls
    victim = current_pid(platform, "cost-intel")
    os.kill(victim, signal.SIGKILL)

    others = {name: url for name, url in urls.items() if name != "cost-intel"}
    for name, url in others.items():
        assert httpx.get(url + "/readyz", timeout=5).status_code == 200, name
    deadline = time.monotonic() + COMEBACK_LIMIT_SECONDS
    while True:
        try:
            back = httpx.get(urls["cost-intel"] + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            back = False
        if back and current_pid(platform, "cost-intel") != victim:
            break
        assert time.monotonic() < deadline, platform.output()
        time.sleep(0.25)

    assert alive({victim}) == set()
    assert platform.process.poll() is None
    output = platform.output()
    assert "cost-intel stopped unexpectedly (exit code -9); restarting in 1 s" in output
    assert "cost-intel restarted (pid" in output
    admin = {"X-AOS-Key": platform.credentials["admin_key"]}
    summary = httpx.get(urls["cost-intel"] + "/api/v1/cost/summary", headers=admin, timeout=10)
    assert summary.status_code == 200
    platform.run_state = json.loads((platform.data_dir / "run.json").read_text())
