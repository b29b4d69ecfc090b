"""Replay results on a trace and the budgets' holds in a real browser, on a tenant of their own.

A trace with a `check` step is replayed from the console (a matching replay shows as the step's
last replay, also when the page is opened again; a different output records a mismatch, which is
then resolved); budgets show what reservations made through the API hold, on which budgets, and
what is left, an edited limit shows at once, and a key's own budget is listed with the keys. A read-only key sees
none of the write controls; the new views are screenshotted at 1280 and 390 px and checked with
axe-core.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aos_cli.testing import RunningPlatform

from .browser import ARTIFACTS, WAIT, go, serious_axe_violations, sideways_overflow, sign_in
from .conftest import ConsoleTenant, create_tenant

RUN = "run_replay_console"
ANSWER = {"answer": 42}


def _trace() -> dict[str, Any]:
    step = {
        "skill_name": "lookup",
        "skill_id": "bot.lookup",
        "status": "success",
        "outcome_category": "ok",
        "params": {"q": "meaning"},
        "cost_cents": 1.5,
        "duration_ms": 120.0,
        "timestamp": "2026-01-01T00:00:00+00:00",
    }
    return {
        "run_id": RUN,
        "agent_id": "replay-bot",
        "seed": 42,
        "frozen_timestamp": "2026-01-01T00:00:00Z",
        "started_at": "2026-01-01T00:00:00+00:00",
        "completed_at": "2026-01-01T00:00:01+00:00",
        "status": "completed",
        "steps": [
            {**step, "step_index": 0, "outcome_data": {"rows": 3}, "replay_behavior": "execute"},
            {
                **step,
                "step_index": 1,
                "skill_name": "answer",
                "outcome_data": ANSWER,
                "replay_behavior": "check",
                "timestamp": "2026-01-01T00:00:00.200000+00:00",
            },
        ],
    }


@pytest.fixture(scope="module")
def api(platform: RunningPlatform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.gateway_url, timeout=30.0, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def tenant(platform: RunningPlatform, api: httpx.Client) -> ConsoleTenant:
    """A tenant with the replayable trace, a hard feature budget and a key with its own budget."""
    created = create_tenant(platform, api)
    headers = created.headers
    stored = api.post("/api/v1/traces", json=_trace(), headers=headers)
    assert stored.status_code == 201, stored.text
    tag = {
        "tag": "search.answer",
        "display_name": "Search answers",
    }  # a hold names registered features only
    assert api.post("/api/v1/cost/features", json=tag, headers=headers).status_code == 201
    feature = {
        "budget_type": "feature",
        "entity_id": "search.answer",
        "monthly_limit_cents": "10000",
        "hard_limit_enabled": True,
    }
    assert api.post("/api/v1/cost/budgets", json=feature, headers=headers).status_code == 201
    capped = {"name": "capped", "budget": {"limit_cents": "5000", "period": "weekly"}}
    assert api.post("/api/v1/tenant/api-keys", json=capped, headers=headers).status_code == 201
    return created


@pytest.fixture(scope="module")
def page(browser: Any, platform: RunningPlatform, tenant: ConsoleTenant) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    sign_in(opened, platform.gateway_url, tenant.key)
    yield opened
    context.close()


def _trace_id(api: httpx.Client, tenant: ConsoleTenant) -> str:
    body = api.get(f"/api/v1/traces/{RUN}", headers=tenant.headers).json()
    return str(body.get("data", body)["trace_id"])


def _reserve(api: httpx.Client, tenant: ConsoleTenant, cents: str) -> str:
    body = {"estimated_cost_cents": cents, "feature_tag": "search.answer", "ttl_seconds": 3600}
    response = api.post("/api/v1/cost/reservations", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    assert len(response.json()["budgets"]) == 1, response.text  # held on the feature budget
    return str(response.json()["id"])


def test_a_replay_check_with_the_recorded_output_matches(
    page: Any, platform: RunningPlatform
) -> None:
    go(page, platform.gateway_url, f"traces/{RUN}")
    assert page.get_by_label("Step to replay").input_value() == "1"  # the check step first
    page.get_by_role("button", name="Replay step").click()
    result = page.get_by_test_id("replay-result")
    assert re.match(r"Step 1 matches its recorded output", result.inner_text(timeout=WAIT))


def test_after_a_matching_replay_the_step_shows_it_as_matched(
    page: Any, platform: RunningPlatform
) -> None:
    go(page, platform.gateway_url, f"traces/{RUN}")
    page.get_by_role("button", name="Replay step").click()
    page.get_by_test_id("replay-result").wait_for(timeout=WAIT)
    last = page.get_by_test_id("last-replay-1")
    last.locator(".badge", has_text="matched").wait_for(timeout=WAIT)
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC by \S+", last.inner_text())
    page.reload()  # a fresh page reads it back from the API
    assert page.get_by_test_id("last-replay-1").locator(".badge").inner_text(timeout=WAIT) == (
        "matched"
    )
    assert "never replayed" in page.get_by_test_id("last-replay-0").inner_text()


def test_a_replay_check_that_differs_records_a_mismatch_resolved_in_the_console(
    page: Any, platform: RunningPlatform, api: httpx.Client, tenant: ConsoleTenant
) -> None:
    go(page, platform.gateway_url, f"traces/{RUN}")
    page.get_by_label("Output (JSON)").fill('{"answer": 41}')
    page.get_by_role("button", name="Replay step").click()
    assert "A mismatch was recorded" in page.get_by_test_id("replay-result").inner_text(
        timeout=WAIT
    )
    mismatch = page.locator(".mismatches li", has_text="replay check")
    assert "open" in mismatch.locator(".badge").inner_text(timeout=WAIT)
    table = page.get_by_test_id("replay-table")
    assert "mismatch open (replay check)" in table.inner_text()
    page.get_by_role("button", name="Resolve the mismatch of step 1").click()
    table.get_by_text("mismatch resolved").wait_for(timeout=WAIT)
    assert mismatch.locator(".badge").inner_text() == "resolved"
    listed = api.get(
        f"/api/v1/traces/{_trace_id(api, tenant)}/mismatches", headers=tenant.headers
    ).json()["data"]["mismatches"]
    assert [(m["step_index"], m["resolved"]) for m in listed] == [(1, True)]
    assert listed[0]["resolved_by"]


def test_an_edited_budget_limit_shows_on_the_page_and_in_the_api(
    page: Any, platform: RunningPlatform, api: httpx.Client, tenant: ConsoleTenant
) -> None:
    go(page, platform.gateway_url, "budgets")
    page.get_by_role("button", name="Edit feature search.answer").click()
    page.get_by_label("Monthly limit ($)").fill("250")
    page.get_by_role("button", name="Save budget").click()
    line = page.locator(
        ".budgets li", has=page.get_by_role("meter", name="feature search.answer (monthly) used")
    )
    line.get_by_text("of $250.00").wait_for(timeout=WAIT)
    budgets = api.get("/api/v1/cost/budgets", headers=tenant.headers).json()
    feature = next(b for b in budgets if b["entity_id"] == "search.answer")
    assert feature["monthly_limit_cents"] == "25000"


def test_a_hold_made_through_the_api_shows_in_the_reservations_and_its_budget(
    page: Any, platform: RunningPlatform, api: httpx.Client, tenant: ConsoleTenant
) -> None:
    reservation = _reserve(api, tenant, "1234")
    go(page, platform.gateway_url, "")  # from another page, as a person opens Budgets
    go(page, platform.gateway_url, "budgets")
    row = page.get_by_role("region", name="Reservations held").locator("tr", has_text=reservation)
    assert "$12.34" in row.inner_text(timeout=WAIT)
    assert "feature search.answer" in row.inner_text()
    budgets = api.get("/api/v1/cost/budgets", headers=tenant.headers).json()
    feature = next(b for b in budgets if b["entity_id"] == "search.answer")
    holds = page.locator(
        f".budgets li[data-budget-id='{feature['id']}'] [data-testid=budget-holds]"
    )
    assert "$12.34 held" in holds.inner_text()


def test_a_hold_lists_the_budget_it_sits_on_in_the_reservations(
    page: Any, platform: RunningPlatform, api: httpx.Client, tenant: ConsoleTenant
) -> None:
    reservation = _reserve(api, tenant, "4321")
    go(page, platform.gateway_url, "")
    go(page, platform.gateway_url, "budgets")
    row = page.get_by_role("region", name="Reservations held").locator("tr", has_text=reservation)
    held_on = row.get_by_test_id("hold-budgets")
    assert held_on.inner_text(timeout=WAIT) == "feature search.answer: $43.21 held"


def test_a_hold_released_in_the_console_is_released_in_the_api(
    page: Any, platform: RunningPlatform, api: httpx.Client, tenant: ConsoleTenant
) -> None:
    reservation = _reserve(api, tenant, "300")
    go(page, platform.gateway_url, "")
    go(page, platform.gateway_url, "budgets")
    button = page.get_by_role("button", name=f"Release {reservation}")
    page.once("dialog", lambda dialog: dialog.accept())
    button.click(timeout=WAIT)
    button.wait_for(state="detached", timeout=WAIT)
    read = api.get(f"/api/v1/cost/reservations/{reservation}", headers=tenant.headers)
    assert read.json()["status"] == "released"


def test_a_key_budget_lists_its_limit_and_period_with_the_key(
    page: Any, platform: RunningPlatform
) -> None:
    go(page, platform.gateway_url, "budgets")
    keys = page.get_by_role("region", name="Keys with their own budget")
    row = keys.locator("tr", has_text="capped")
    assert "$50.00 weekly" in row.inner_text(timeout=WAIT)


def test_a_read_only_key_sees_replay_results_and_holds_but_no_write_controls(
    browser: Any, platform: RunningPlatform, api: httpx.Client, tenant: ConsoleTenant
) -> None:
    viewer_key = api.post(
        "/api/v1/tenant/api-keys",
        json={"name": "viewer", "permissions": ["read:*", "traces:read", "keys:read"]},
        headers=tenant.headers,
    ).json()["key"]
    reported = {"step_index": 0, "reason": "Rows differ on replay"}
    trace_id = _trace_id(api, tenant)
    response = api.post(
        f"/api/v1/traces/{trace_id}/mismatch", json=reported, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        viewer = context.new_page()
        sign_in(viewer, platform.gateway_url, viewer_key)
        go(viewer, platform.gateway_url, f"traces/{RUN}")
        viewer.get_by_test_id("replay-table").wait_for(timeout=WAIT)
        open_one = viewer.locator(".mismatches li", has_text="Rows differ on replay")
        assert "open" in open_one.locator(".badge").inner_text(timeout=WAIT)
        assert viewer.get_by_role("button", name="Replay step").count() == 0
        assert viewer.get_by_role("button", name=re.compile("^Resolve")).count() == 0
        go(viewer, platform.gateway_url, "budgets")
        viewer.get_by_role("heading", name="Key budgets").wait_for(timeout=WAIT)
        viewer.get_by_role("region", name="Reservations held").wait_for(timeout=WAIT)
        assert viewer.get_by_role("button", name=re.compile("^(Edit|Create budget)")).count() == 0
        assert viewer.get_by_role("button", name=re.compile("^Release")).count() == 0
    finally:
        context.close()


def test_keyboard_alone_replays_a_step(page: Any, platform: RunningPlatform) -> None:
    go(page, platform.gateway_url, f"traces/{RUN}")
    page.get_by_label("Step to replay").focus()
    page.keyboard.press("Tab")  # the output
    page.keyboard.press("Tab")  # the button
    assert page.evaluate("() => document.activeElement.textContent") == "Replay step"
    page.keyboard.press("Enter")
    page.get_by_test_id("replay-result").wait_for(timeout=WAIT)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_replay_and_holds_views_are_screenshotted_and_have_no_serious_axe_violations(
    page: Any, platform: RunningPlatform, api: httpx.Client, tenant: ConsoleTenant, width: int
) -> None:
    _reserve(api, tenant, "250")
    page.set_viewport_size({"width": width, "height": 900})
    serious: dict[str, list[str]] = {}
    try:
        for name, route in {"trace-replay": f"traces/{RUN}", "budgets-holds": "budgets"}.items():
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
