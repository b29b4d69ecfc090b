"""The console against the running platform: a built console, a browser, a seeded tenant.

Skips (with the reason) when Node.js ≥ 20 or Debian's chromium is missing; the browser never comes
from a Playwright download. Screenshots and downloads go under `artifacts/console/` (gitignored).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from aos_cli.console_build import CONSOLE_DIR, ConsoleBuildError, ensure_built, find_node
from aos_cli.demo import seed
from aos_cli.testing import RunningPlatform

ARTIFACTS = CONSOLE_DIR.parent / "artifacts" / "console"
CHROMIUM = os.environ.get("AOS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class ConsoleTenant:
    id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-AOS-Key": self.key}


@pytest.fixture(scope="session")
def node_tools() -> object:
    try:
        return find_node()
    except ConsoleBuildError as error:
        pytest.skip(f"console tests need Node.js 20 or newer on PATH: {error.sentence}")


@pytest.fixture(scope="session")
def console_dist(node_tools: object) -> Path:
    """The built console (built here when missing or older than its sources)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ensure_built(ARTIFACTS / "console-build.log")
    return CONSOLE_DIR / "dist"


@pytest.fixture(scope="session")
def gateway(platform: RunningPlatform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.gateway_url, timeout=30.0, trust_env=False) as client:
        yield client


def create_tenant(platform: RunningPlatform, gateway: httpx.Client) -> ConsoleTenant:
    operator = {"X-AOS-Key": platform.credentials["operator_key"]}
    name = f"console-{secrets.token_hex(4)}"
    response = gateway.post("/api/v1/tenants", json={"name": name}, headers=operator)
    assert response.status_code == 201, response.text
    body = response.json()
    return ConsoleTenant(id=body["id"], key=body["initial_api_key"]["key"])


@pytest.fixture
def new_tenant(platform: RunningPlatform, gateway: httpx.Client) -> Callable[[], ConsoleTenant]:
    return lambda: create_tenant(platform, gateway)


@pytest.fixture(scope="session")
def seeded_tenant(platform: RunningPlatform, gateway: httpx.Client) -> ConsoleTenant:
    """A tenant of its own with the demo data (`aos demo seed`'s code, through the gateway)."""
    tenant = create_tenant(platform, gateway)
    seed(platform.gateway_url, tenant.key, Console(quiet=True))
    return tenant


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        )
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


@pytest.fixture(scope="module")
def browser(chromium_path: str, console_dist: Path) -> Iterator[object]:
    """Module-scoped on purpose: Playwright's sync API keeps an event loop running in this thread
    while it is open, which would break every later asyncio test of the session."""
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
