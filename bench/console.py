"""The web console's two targets: JavaScript shipped on first load (gzip) and the time from
clicking "Sign in" to a drawn cost chart, with 30 days of seeded data, on localhost.

1. Size: the files `console/dist/index.html` loads before anything else (its module script, the
   chunks it preloads and its stylesheet), each gzip-compressed at level 9 as a server would send
   it; the lazily loaded page chunks are listed apart (they load when their page opens).
2. Time: the whole platform is started (`aos up` as the end-to-end tests start it, fresh database),
   a tenant is created and seeded by `aos demo seed`'s code, then Debian's chromium (Playwright,
   never a downloaded browser) signs in `--runs` times, each time in a fresh browser context with
   an empty cache, and the time from the click to the first stacked area of the spend chart
   having a drawn path is read with `performance.now()` in the page.

Usage:
    uv run python bench/console.py [--runs 7] [--database-url postgresql://...] [--no-write]

Needs Node.js ≥ 20 (to build the console when stale) and chromium at /usr/bin/chromium. Figures go
to the "console" section of docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import re
import statistics
import sys
from pathlib import Path

import httpx
from _support import write_performance_section
from rich.console import Console

from aos_cli.console_build import CONSOLE_DIR, ensure_built
from aos_cli.demo import seed
from aos_cli.testing import platform_data_dir, platform_env, start_platform
from aos_common.testing import create_database, drop_database

CHROMIUM = os.environ.get("AOS_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TARGET_KB = 300
TARGET_SECONDS = 1.0


def gzip_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def first_load_files(dist: Path) -> list[Path]:
    """What index.html makes the browser fetch before the console runs."""
    index = (dist / "index.html").read_text()
    names = re.findall(r'(?:src|href)="/console/(assets/[^"]+)"', index)
    return [dist / name for name in names]


def sizes(dist: Path) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
    first = first_load_files(dist)
    rows = [(p.name, p.stat().st_size, gzip_size(p)) for p in first]
    lazy = [
        (p.name, p.stat().st_size, gzip_size(p))
        for p in sorted((dist / "assets").glob("*.js"))
        if p not in first
    ]
    return rows, lazy


def time_to_chart(gateway_url: str, key: str, runs: int) -> tuple[list[float], list[float]]:
    """Per run: click → chart drawn, and click → the series data received."""
    from playwright.sync_api import sync_playwright

    seconds: list[float] = []
    data_seconds: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(gateway_url + "/")
                page.get_by_label("API key or console token").fill(key)
                page.evaluate(
                    """() => {
                      const button = [...document.querySelectorAll('button')]
                        .find(b => b.textContent === 'Sign in');
                      button.addEventListener('click', () => { window.__clicked = performance.now(); },
                                              { capture: true, once: true });
                    }"""
                )
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_function(
                    """() => {
                      const path = document.querySelector(
                        '[data-testid=spend-chart] path.recharts-area-area');
                      return path && (path.getAttribute('d') || '').length > 20;
                    }""",
                    timeout=30_000,
                )
                drawn, data = page.evaluate(
                    """() => [performance.now() - window.__clicked,
                              Math.max(...performance.getEntriesByType('resource')
                                .filter(e => e.name.includes('/api/v1/cost/series'))
                                .map(e => e.responseEnd)) - window.__clicked]"""
                )
                seconds.append(drawn / 1000)
                data_seconds.append(data / 1000)
                context.close()
        finally:
            browser.close()
    return seconds, data_seconds


def measure_time(database_server: str, runs: int) -> tuple[list[float], list[float]]:
    database_url = create_database(database_server, prefix="aos_bench_console")
    overrides = {"DATABASE_URL": database_url, "AOS_UP_TIMEOUT": "150"}
    redis_url = os.environ.get("AOS_TEST_REDIS_URL")
    if redis_url:
        overrides["REDIS_URL"] = redis_url
    try:
        with platform_data_dir() as data_dir:
            running = start_platform(platform_env(data_dir, overrides), timeout=150)
            try:
                operator = {"X-AOS-Key": running.credentials["operator_key"]}
                created = httpx.post(
                    running.gateway_url + "/api/v1/tenants",
                    json={"name": "bench-console"},
                    headers=operator,
                    timeout=30,
                ).json()
                key = created["initial_api_key"]["key"]
                seed(running.gateway_url, key, Console(stderr=True))
                return time_to_chart(running.gateway_url, key, runs)
            finally:
                running.interrupt()
                running.kill_everything()
    finally:
        drop_database(database_url)


def section(
    command: str,
    first: list[tuple[str, int, int]],
    lazy: list[tuple[str, int, int]],
    seconds: list[float],
    data_seconds: list[float],
) -> str:
    first_gzip = sum(row[2] for row in first)
    lines = [
        "## console",
        "",
        f"Command: `{command}` (machine: {platform.machine()}, {os.cpu_count()} cores shared with "
        f"other work, Python {platform.python_version()}, chromium headless on localhost; "
        f"load average {os.getloadavg()[0]:.1f} when it finished).",
        "",
        f"**JavaScript and CSS on first load: {first_gzip / 1024:.1f} KB gzip** "
        f"(target ≤ {TARGET_KB} KB).",
        "",
        "| first-load file | bytes | gzip bytes |",
        "|---|---:|---:|",
        *(f"| {name} | {raw:,} | {packed:,} |" for name, raw, packed in first),
        "",
        "Loaded only when their page opens:",
        "",
        "| lazy chunk | bytes | gzip bytes |",
        "|---|---:|---:|",
        *(f"| {name} | {raw:,} | {packed:,} |" for name, raw, packed in lazy),
        "",
    ]
    if seconds:
        ordered = sorted(seconds)
        lines += [
            f"**Sign-in click → drawn cost chart (30 days seeded): median "
            f"{statistics.median(ordered):.2f} s, worst {ordered[-1]:.2f} s over {len(ordered)} "
            f"runs** (target ≤ {TARGET_SECONDS:g} s). Each run is a fresh browser context "
            "(empty cache): the sign-in exchange, the console bundle, then the dashboard, series "
            "and budgets requests of the 7-day view, until the first stacked area has its path.",
            "",
            "Runs (s): " + ", ".join(f"{value:.2f}" for value in seconds),
            "",
            "Of which click → the chart's data received (sign-in exchange, then the series "
            f"request): median {statistics.median(data_seconds):.2f} s; the rest is the browser's "
            "main thread rendering the signed-in shell and the charts, which is what a loaded "
            "machine stretches (headless chromium shares the 2 cores with every other process).",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "AOS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--size-only", action="store_true", help="skip the browser timing")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    ensure_built(CONSOLE_DIR.parent / ".aos" / "logs" / "console-build.log")
    first, lazy = sizes(CONSOLE_DIR / "dist")
    seconds: list[float] = []
    data_seconds: list[float] = []
    if not args.size_only:
        seconds, data_seconds = measure_time(args.database_url, args.runs)
    command = "uv run python bench/console.py " + " ".join(sys.argv[1:])
    text = section(command.strip(), first, lazy, seconds, data_seconds)
    print(text)
    if not args.no_write:
        write_performance_section(text)


if __name__ == "__main__":
    main()
