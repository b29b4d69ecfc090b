"""What the browser tests share: signing in, opening a console route and waiting for it to
settle, and the per-page checks (no sideways scroll, axe-core's serious or critical findings)."""

from __future__ import annotations

from typing import Any

from aos_cli.console_build import CONSOLE_DIR

ARTIFACTS = CONSOLE_DIR.parent / "artifacts" / "console"
WAIT = 20_000


def sign_in(page: Any, gateway_url: str, key: str) -> None:
    page.goto(gateway_url + "/")
    page.get_by_label("API key or console token").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Overview & cost").wait_for(timeout=WAIT)


def go(page: Any, gateway_url: str, route: str) -> None:
    page.goto(f"{gateway_url}/#/{route}")
    page.locator("main h1").first.wait_for(timeout=WAIT)
    page.wait_for_load_state("networkidle")


def sideways_overflow(page: Any, width: int) -> tuple[int, list[str]]:
    """How far the page scrolls sideways, and up to five elements reaching past the viewport
    (tables and the side navigation scroll inside their own box, so they do not count)."""
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    wide = page.evaluate(
        "w => [...document.querySelectorAll('body *')].filter(e => "
        "e.getBoundingClientRect().right > w + 1 && !e.closest('.table-wrap, .sidenav'))"
        ".slice(0, 5).map(e => e.tagName + '.' + e.className)",
        width,
    )
    return int(overflow), list(wide)


def serious_axe_violations(page: Any) -> list[str]:
    """axe-core (from the console's npm packages) run on the page: serious or critical only."""
    axe = (CONSOLE_DIR / "node_modules" / "axe-core" / "axe.min.js").read_text()
    page.evaluate(axe)
    return list(
        page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
            ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
        )
    )
