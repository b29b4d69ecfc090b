"""Credential verification latency: warm cache, cold (one Postgres round trip), and over HTTP.

What every AOS request pays to turn a credential into a principal:

- warm: aos_common's Authenticator answering from its in-process cache (≤ 5 s entries), which is
  what nearly every request hits; target p99 < 1 ms.
- cold: the tenants service's LocalCredentialResolver on a cache miss: one indexed Postgres query
  for an API key; for a console JWT the HS256 verification plus one tenant lookup.
- peer: the RemoteCredentialResolver another service uses on a cache miss, calling
  GET /internal/v1/auth/verify on the tenants app in-process (ASGI transport: the HTTP stack
  without sockets), i.e. what a cold miss costs outside the tenants service.

Runs on a fresh database (created and dropped) on the server of --database-url, writes the
"auth_verify" section of docs/PERFORMANCE.md.

    uv run python bench/auth_verify.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import asyncpg
import httpx
from _support import write_performance_section
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from aos_common.auth import Authenticator, Credential
from aos_common.http_client import ServiceClient
from aos_common.remote_auth import RemoteCredentialResolver
from aos_common.settings import DEVELOPMENT_INTERNAL_SECRET
from aos_common.testing import app_client, create_database, drop_database, migrate
from aos_tenants.credentials.resolver import LocalCredentialResolver, create_lookup_engine
from aos_tenants.credentials.tokens import ConsoleTokenVerifier
from aos_tenants.domain.keys import hash_api_key
from aos_tenants.main import create_app
from aos_tenants.settings import TenantsSettings
from aos_tenants.tenants.bootstrap import bootstrap_demo

ROOT = Path(__file__).resolve().parents[1]
PERFORMANCE = ROOT / "docs" / "PERFORMANCE.md"
SECTION = "auth_verify"
JWT_SECRET = "bench-auth-verify-jwt-secret-0123456789abcdef"


@dataclass(frozen=True)
class Figure:
    path: str
    credential: str
    samples: int
    p50_us: float
    p95_us: float
    p99_us: float
    mean_us: float

    @property
    def per_second(self) -> float:
        return 1_000_000 / self.mean_us if self.mean_us else 0.0


def _percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


async def measure(
    progress: Progress,
    path: str,
    credential: str,
    samples: int,
    operation: Callable[[], Awaitable[object]],
) -> Figure:
    task = progress.add_task(f"{path} · {credential}", total=samples)
    for _ in range(min(50, samples)):  # warm-up: connections, statement caches, JIT-free paths
        await operation()
    timings: list[float] = []
    for done in range(samples):
        began = time.perf_counter_ns()
        await operation()
        timings.append((time.perf_counter_ns() - began) / 1000)
        if done % 100 == 0:
            progress.update(task, completed=done)
    progress.update(task, completed=samples)
    timings.sort()
    return Figure(
        path,
        credential,
        samples,
        _percentile(timings, 0.50),
        _percentile(timings, 0.95),
        _percentile(timings, 0.99),
        statistics.fmean(timings),
    )


async def run(database_url: str, redis_url: str, warm: int, cold: int, remote: int) -> list[Figure]:
    credentials = await bootstrap_demo(database_url, jwt_secret=JWT_SECRET)
    api_key = Credential("api_key", credentials["admin_key"])
    token = Credential("jwt", credentials["console_token"])
    engine = create_lookup_engine(database_url, pool_size=2)
    resolver = LocalCredentialResolver(engine, ConsoleTokenVerifier(hs_secret=JWT_SECRET))
    authenticator = Authenticator(
        internal_secret=DEVELOPMENT_INTERNAL_SECRET, operator_key=None, resolver=resolver
    )
    settings = TenantsSettings(
        database_url=database_url,
        redis_url=redis_url,
        environment="test",
        telemetry_enabled=False,
        jwt_secret=JWT_SECRET,
        cost_guard_enabled=False,
    )
    tenants_app = create_app(settings)
    figures: list[Figure] = []
    columns = (
        TextColumn("{task.description:<42}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns) as progress:
            for name, credential in (("API key", api_key), ("console JWT", token)):
                headers = dict(credential.headers().items())
                lowered = {key.lower(): value for key, value in headers.items()}
                figures.append(
                    await measure(
                        progress,
                        "warm: Authenticator cache hit",
                        name,
                        warm,
                        partial(authenticator.authenticate, lowered),
                    )
                )
                figures.append(
                    await measure(
                        progress,
                        "cold: local resolver (Postgres)",
                        name,
                        cold,
                        partial(resolver.resolve, credential),
                    )
                )
            connection = await asyncpg.connect(database_url)
            try:
                lookup = await connection.prepare(
                    "SELECT id, tenant_id, status, roles, permissions, rate_limit_rpm, expires_at "
                    "FROM tenants.api_keys WHERE key_hash = $1"
                )
                key_hash = hash_api_key(api_key.value)
                figures.append(
                    await measure(
                        progress,
                        "floor: raw asyncpg prepared SELECT",
                        "API key",
                        cold,
                        partial(lookup.fetchrow, key_hash),
                    )
                )
            finally:
                await connection.close()
            async with app_client(tenants_app):
                client = ServiceClient(
                    service_name="bench",
                    base_urls={"tenants": "http://tenants"},
                    internal_secret=DEVELOPMENT_INTERNAL_SECRET,
                    transports={"tenants": httpx.ASGITransport(app=tenants_app)},
                )
                remote_resolver = RemoteCredentialResolver(client)
                try:
                    for name, credential in (("API key", api_key), ("console JWT", token)):
                        figures.append(
                            await measure(
                                progress,
                                "peer: remote verify (HTTP, in-process)",
                                name,
                                remote,
                                partial(remote_resolver.resolve, credential),
                            )
                        )
                finally:
                    await client.aclose()
    finally:
        await engine.dispose()
    return figures


def render(figures: list[Figure], command: str, seconds: float, load: float) -> str:
    lines = [
        f"## {SECTION}",
        "",
        f"Command: `{command}` (machine: {platform.machine()}, {os.cpu_count()} cores shared with "
        f"other work, load average {load:.1f} at the start, Python {platform.python_version()}, "
        f"PostgreSQL local; {seconds:.0f} s).",
        "",
        "| path | credential | samples | p50 µs | p95 µs | p99 µs | mean µs | per second |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for figure in figures:
        lines.append(
            f"| {figure.path} | {figure.credential} | {figure.samples:,} | {figure.p50_us:,.1f} | "
            f"{figure.p95_us:,.1f} | {figure.p99_us:,.1f} | {figure.mean_us:,.1f} | "
            f"{figure.per_second:,.0f} |"
        )
    warm = [figure for figure in figures if figure.path.startswith("warm")]
    verdict = all(figure.p99_us < 1000 for figure in warm)
    lines += [
        "",
        f"Warm-cache target p99 < 1 ms in-process: {'met' if verdict else 'NOT met'}. "
        "Cold is the tenants service's own miss path: one indexed query on "
        "`api_keys.key_hash` (plus HS256 verification and one tenant lookup for a JWT). The peer "
        "row is the same miss seen from another service: the signed internal call to "
        "`/internal/v1/auth/verify` through the full ASGI stack, without sockets. Entries live at "
        "most 5 s, which bounds how long a revoked key keeps working anywhere. The floor row is the "
        "same lookup as a prepared statement on a raw asyncpg connection: the cost of the round "
        "trip itself, which the cold path adds SQLAlchemy Core and pooling to. On this shared box "
        "the tails (p95/p99) of every database row are dominated by CPU contention from other "
        "work; p50 is the representative figure.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--warm", type=int, default=20_000, help="warm-cache samples")
    parser.add_argument("--cold", type=int, default=2_000, help="cold (Postgres) samples")
    parser.add_argument("--remote", type=int, default=1_000, help="remote verify samples")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "AOS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="any database on the server to use; a fresh one is created and dropped",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("AOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--no-write", action="store_true", help="do not update PERFORMANCE.md")
    args = parser.parse_args()
    console = Console()
    load = os.getloadavg()[0]
    url = create_database(args.database_url, prefix="aos_bench_auth")
    began = time.perf_counter()
    try:
        migrate("aos_tenants", url)
        figures = asyncio.run(run(url, args.redis_url, args.warm, args.cold, args.remote))
    finally:
        drop_database(url)
    table = Table("path", "credential", "p50 µs", "p95 µs", "p99 µs", "mean µs", "per s")
    for figure in figures:
        table.add_row(
            figure.path,
            figure.credential,
            f"{figure.p50_us:,.1f}",
            f"{figure.p95_us:,.1f}",
            f"{figure.p99_us:,.1f}",
            f"{figure.mean_us:,.1f}",
            f"{figure.per_second:,.0f}",
        )
    console.print(table)
    defaults = (args.warm, args.cold, args.remote) == (20_000, 2_000, 1_000)
    command = "uv run python bench/auth_verify.py" + (
        "" if defaults else f" --warm {args.warm} --cold {args.cold} --remote {args.remote}"
    )
    if not args.no_write:
        write_performance_section(render(figures, command, time.perf_counter() - began, load))
        console.print(f"wrote the {SECTION} section of {PERFORMANCE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
