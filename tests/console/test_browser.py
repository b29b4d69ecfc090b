"""The console in a real browser (Debian's chromium through Playwright) against the running platform.

One signed-in page per module walks what a person does: sign in with a key, read the cost charts,
switch the period, create and revoke a key, open and compare runs, export logs, verify the ledger
(also one tampered in Postgres), sign out. Every page is screenshotted at 1280 px and 390 px and
checked with axe-core (from the console's npm packages, injected here).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import httpx
import pytest

from aos_cli.testing import RunningPlatform

from .browser import ARTIFACTS, WAIT, go, serious_axe_violations, sideways_overflow, sign_in

ConsoleTenant = Any  # tests/console/conftest.py's dataclass (id, key, headers)

PAGES = {
    "cost": "",
    "traces": "traces",
    "trace": "traces/run_demo_bad",
    "compare": "traces/compare/run_demo_good/run_demo_bad",
    "mismatches": "traces/mismatches",
    "logs": "logs",
    "audit": "audit",
    "keys": "keys",
    "budgets": "budgets",
}


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    created = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    yield created
    created.close()


@pytest.fixture(scope="module")
def page(context: Any, platform: RunningPlatform, seeded_tenant: ConsoleTenant) -> Any:
    opened = context.new_page()
    sign_in(opened, platform.gateway_url, seeded_tenant.key)
    return opened


def test_the_cost_page_draws_stacked_spend_by_model(
    page: Any, seeded_tenant: ConsoleTenant
) -> None:
    chart = page.get_by_test_id("spend-chart")
    areas = chart.locator("path.recharts-area-area")
    areas.first.wait_for(timeout=WAIT)
    assert areas.count() == 4  # the four seeded models, one stacked area each
    shape = areas.first.get_attribute("d") or ""
    assert len(re.findall(r"[ML]", shape)) + len(re.findall(r"C", shape)) > 5
    labels = chart.locator("svg text").all_text_contents()
    assert any(label.startswith("$") for label in labels)  # dollar ticks drawn on the y axis
    assert page.get_by_text("Support chat").first.is_visible()
    assert page.locator("[role=meter]").count() >= 3


def test_switching_the_period_redraws_the_chart(page: Any) -> None:
    before = page.locator(".recharts-xAxis .recharts-cartesian-axis-tick").count()
    page.get_by_role("button", name="30d").click()
    assert page.get_by_role("button", name="30d").get_attribute("aria-pressed") == "true"
    page.wait_for_function(
        "n => { const ticks = document.querySelectorAll("
        "'.recharts-xAxis .recharts-cartesian-axis-tick').length; return ticks > 0 && ticks !== n; }",
        arg=before,
        timeout=WAIT,
    )
    assert page.locator("[data-testid=spend-chart] path.recharts-area-area").count() == 4


def test_a_key_created_in_the_console_works_until_revoked(
    page: Any, platform: RunningPlatform
) -> None:
    go(page, platform.gateway_url, "keys")
    page.get_by_label("Name").fill("browser-made")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("new-key-secret").inner_text(timeout=WAIT).strip()
    assert secret.startswith("aos_")
    headers = {"X-AOS-Key": secret}
    with httpx.Client(base_url=platform.gateway_url, trust_env=False, timeout=30) as client:
        assert client.get("/api/v1/cost/summary", headers=headers).status_code == 200
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Revoke browser-made").click()
        page.get_by_role("button", name="Revoke browser-made").wait_for(
            state="detached", timeout=WAIT
        )
        status = 200
        for _ in range(40):  # the gateway caches a grant for at most 2 s
            status = client.get("/api/v1/cost/summary", headers=headers).status_code
            if status == 401:
                break
            page.wait_for_timeout(250)
        assert status == 401


def test_a_trace_opens_as_a_waterfall_and_two_runs_compare(
    page: Any, platform: RunningPlatform
) -> None:
    go(page, platform.gateway_url, "traces")
    page.get_by_role("link", name="run_demo_bad").click()
    rows = page.get_by_test_id("waterfall").locator("li")
    rows.first.wait_for(timeout=WAIT)
    assert rows.count() == 4  # failed at its fourth step
    assert page.locator(".wf-row.st-failure").count() == 1
    go(page, platform.gateway_url, "traces")
    page.get_by_label("Select run_demo_good to compare").check()
    page.get_by_label("Select run_demo_bad to compare").check()
    page.get_by_role("button", name=re.compile("Compare selected")).click()
    table = page.get_by_test_id("compare-table")
    table.wait_for(timeout=WAIT)
    differing = table.locator("tr.diff th").all_inner_texts()
    assert any("root_hash" in text for text in differing)
    assert any("step_count" in text for text in differing)
    assert not any(text.startswith("seed") for text in differing)
    assert "differ" in page.locator(".verdict").inner_text()


def test_exported_logs_have_one_row_per_run(
    page: Any, platform: RunningPlatform, seeded_tenant: ConsoleTenant
) -> None:
    go(page, platform.gateway_url, "logs")
    with page.expect_download(timeout=WAIT) as download:
        page.get_by_role("link", name="Export CSV").click()
    path = ARTIFACTS / "logs_export.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    with httpx.Client(base_url=platform.gateway_url, trust_env=False, timeout=30) as client:
        total = client.get("/api/v1/guard/logs", headers=seeded_tenant.headers).json()["total"]
    assert len(rows) == total == 62
    assert {row["run_id"] for row in rows} >= {"run_demo_good", "run_demo_bad"}
    with page.expect_download(timeout=WAIT) as download:
        page.get_by_role("link", name="Export NDJSON").click()
    lines = [json.loads(line) for line in open(download.value.path()) if line.strip()]
    assert len(lines) == total


def test_the_evidence_bundle_downloads_and_verifies(page: Any, platform: RunningPlatform) -> None:
    go(page, platform.gateway_url, "logs/log_demo_bad")
    with page.expect_download(timeout=WAIT):
        page.get_by_role("button", name="Download and verify bundle").click()
    verdict = page.get_by_test_id("bundle-check")
    assert "Bundle verified" in verdict.inner_text(timeout=WAIT)


def test_a_budget_created_in_the_console_shows_its_used_bar(
    page: Any, platform: RunningPlatform
) -> None:
    go(page, platform.gateway_url, "budgets")
    page.get_by_label("For").select_option("user")
    page.get_by_label("User id").fill("bob")
    page.get_by_label("Daily limit ($)").fill("12.5")
    page.get_by_role("button", name="Create budget").click()
    meter = page.get_by_role("meter", name="user bob (daily) used")
    meter.wait_for(timeout=WAIT)
    assert "$12.50" in page.locator(".budgets li", has=meter).inner_text()


def test_a_read_only_key_sees_no_create_or_revoke_and_the_api_refuses_anyway(
    browser: Any, platform: RunningPlatform, seeded_tenant: ConsoleTenant
) -> None:
    with httpx.Client(base_url=platform.gateway_url, trust_env=False, timeout=30) as client:
        created = client.post(
            "/api/v1/tenant/api-keys",
            json={"name": "viewer", "permissions": ["read:*", "traces:read", "keys:read"]},
            headers=seeded_tenant.headers,
        ).json()
    own = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        viewer = own.new_page()
        sign_in(viewer, platform.gateway_url, created["key"])
        go(viewer, platform.gateway_url, "keys")
        viewer.get_by_role("heading", name="API keys").wait_for(timeout=WAIT)
        assert viewer.get_by_role("button", name="Create key").count() == 0
        assert viewer.get_by_role("button", name=re.compile("^Revoke")).count() == 0
        go(viewer, platform.gateway_url, "budgets")
        assert viewer.get_by_role("button", name="Create budget").count() == 0
        refused = viewer.evaluate(
            """async () => (await fetch('/api/v1/tenant/api-keys', {method: 'POST',
                 headers: {'Content-Type': 'application/json', 'X-Requested-With': 'aos-console'},
                 body: JSON.stringify({name: 'sneaky'})})).status"""
        )
        assert refused == 403
    finally:
        own.close()


def _database_url(platform: RunningPlatform) -> str:
    url = platform.env.get("DATABASE_URL")
    if not url:
        pytest.skip("tampering needs the platform's database URL (set AOS_TEST_DATABASE_URL)")
    return url


async def _tamper(database_url: str, tenant_id: str) -> int:
    """Alter one ledger entry as a superuser could (triggers off), the way an attacker would."""
    connection = await asyncpg.connect(database_url)
    try:
        async with connection.transaction():
            await connection.execute("ALTER TABLE audit.entries DISABLE TRIGGER USER")
            seq = await connection.fetchval(
                "SELECT max(seq) FROM audit.entries WHERE tenant_id = $1", tenant_id
            )
            await connection.execute(
                "UPDATE audit.entries SET action_reason = 'nothing to see' "
                "WHERE tenant_id = $1 AND seq = $2",
                tenant_id,
                seq,
            )
            await connection.execute("ALTER TABLE audit.entries ENABLE TRIGGER USER")
        return int(seq)
    finally:
        await connection.close()


def test_the_ledger_verifies_intact_then_reports_a_tampered_entry(
    browser: Any, platform: RunningPlatform, new_tenant: Callable[[], ConsoleTenant]
) -> None:
    tenant = new_tenant()
    with httpx.Client(base_url=platform.gateway_url, trust_env=False, timeout=30) as client:
        for name in ("one", "two"):
            client.post("/api/v1/tenant/api-keys", json={"name": name}, headers=tenant.headers)
    own = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        audit = own.new_page()
        sign_in(audit, platform.gateway_url, tenant.key)
        go(audit, platform.gateway_url, "audit")
        audit.get_by_role("button", name="Verify ledger").click()
        result = audit.get_by_test_id("verify-result")
        assert result.inner_text(timeout=WAIT).startswith("Intact")
        database_url = _database_url(platform)
        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's loop
            seq = pool.submit(asyncio.run, _tamper(database_url, tenant.id)).result()
        audit.get_by_role("button", name="Verify ledger").click()
        audit.wait_for_function(
            "() => document.querySelector('[data-testid=verify-result]').innerText"
            ".startsWith('Broken')",
            timeout=WAIT,
        )
        assert f"Broken at seq {seq}" in result.inner_text()
        audit.screenshot(path=str(ARTIFACTS / "audit-tampered.png"), full_page=True)
    finally:
        own.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_is_screenshotted_and_has_no_serious_axe_violations(
    page: Any, platform: RunningPlatform, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    serious: dict[str, list[str]] = {}
    try:
        for name, route in PAGES.items():
            go(page, platform.gateway_url, route)
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
            overflow, wide = sideways_overflow(page, width)
            assert overflow <= 1, f"{name} scrolls sideways at {width} px: {wide}"
            found = serious_axe_violations(page)
            if found:
                serious[name] = found
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
    assert serious == {}


def test_keyboard_alone_reaches_the_pages(page: Any, platform: RunningPlatform) -> None:
    go(page, platform.gateway_url, "")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent") == "Traces":
            break
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Traces").wait_for(timeout=WAIT)


def test_signing_out_returns_to_sign_in_and_the_cookie_stops_working(
    page: Any, context: Any, platform: RunningPlatform
) -> None:
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in to AOS").wait_for(timeout=WAIT)
    assert page.evaluate("() => document.cookie") == ""  # HttpOnly: never visible to scripts
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    with httpx.Client(base_url=platform.gateway_url, cookies=cookies, trust_env=False) as client:
        assert client.get("/api/v1/cost/summary").status_code == 401
