"""The long fault runs: kill -9 under load, Redis stopped, PostgreSQL frozen, audit ledger down,
each judged by acknowledged writes (acknowledged vs stored, duplicates, recovery time).

    uv run python tests/reliability/faults.py [--writers 20] [--output docs/RELIABILITY.md]

Starts a real `aos up` with its own embedded PostgreSQL and a private Redis (the machine's shared
servers are never touched), runs every fault while 20 writers retry each operation with its own
Idempotency-Key until acknowledged, then counts what the database holds, and writes
docs/RELIABILITY.md. Takes about ten minutes. Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fault_platform import (
    Load,
    Platform,
    create_tenant,
    frozen,
    kill9,
    query,
    readiness,
    started_platform,
    timed_readiness,
    write_text,
)
from reliability_report import render

ROOT = Path(__file__).resolve().parents[2]
WARM_SECONDS = 3.0
OUTAGE_SECONDS = 10.0
LEDGER_OUTAGE_SECONDS = 15.0
AFTER_SECONDS = 6.0
COMEBACK_LIMIT_SECONDS = 120.0
CATCH_UP_LIMIT_SECONDS = 600.0
SERVICES = ("tenants", "traces", "cost-intel", "audit-ledger", "guard-logs")


@dataclass
class Outcome:
    name: str
    fault: str
    guard: str
    acknowledged: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    failed_attempts: int = 0
    abandoned: int = 0
    recovery_seconds: float | None = None
    notes: list[str] = field(default_factory=list)


def cost_record(op_id: str) -> tuple[str, dict[str, Any]]:
    return "/api/v1/cost/record", {"model": "gpt-4o", "input_tokens": 10, "workflow_id": op_id}


def user_budget(op_id: str) -> tuple[str, dict[str, Any]]:
    body = {"budget_type": "user", "entity_id": op_id, "daily_limit_cents": "100"}
    return "/api/v1/cost/budgets", body


async def count_cost_records(platform: Platform, load: Load) -> dict[str, int]:
    rows = await query(
        platform,
        "SELECT workflow_id, count(*) AS n FROM cost_intel.cost_records"
        " WHERE tenant_id = $1 AND workflow_id = ANY($2::text[]) GROUP BY workflow_id",
        platform.tenant_id,
        list(load.acknowledged) + list(load.abandoned),
    )
    return {row["workflow_id"]: int(row["n"]) for row in rows}


def account(outcome: Outcome, load: Load, stored: dict[str, int], fault_at: float) -> None:
    acknowledged = set(load.acknowledged)
    outcome.acknowledged = len(acknowledged)
    outcome.stored = sum(1 for op in acknowledged if stored.get(op, 0) >= 1)
    outcome.lost = outcome.acknowledged - outcome.stored
    outcome.duplicated = sum(n - 1 for n in stored.values() if n > 1)
    outcome.failed_attempts = load.failed_attempts()
    outcome.abandoned = len(load.abandoned)
    recovered = load.recovered_at(fault_at)
    outcome.recovery_seconds = None if recovered is None else recovered - fault_at
    note_failures(outcome, load)


def note_failures(outcome: Outcome, load: Load) -> None:
    answers = Counter(
        "no answer" if a.status is None else f"HTTP {a.status}" for a in load.attempts if not a.ok
    )
    if answers:
        listed = ", ".join(f"{answer} x{count}" for answer, count in answers.most_common())
        outcome.notes.append(f"failed tries by answer: {listed}")


async def wait_for_new_pid(platform: Platform, name: str, old: int) -> float:
    """Seconds until the supervisor's restart of `name` answers /readyz with 200."""
    started = time.monotonic()
    url = platform.gateway if name == "gateway" else platform.service_url(name)
    while time.monotonic() - started < COMEBACK_LIMIT_SECONDS:
        try:
            if platform.pid(name) != old and (await readiness(url))[0] == 200:
                return time.monotonic() - started
        except (OSError, ValueError, KeyError):
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{name} did not come back within {COMEBACK_LIMIT_SECONDS:g} s")


async def kill_under_load(platform: Platform, name: str, writers: int) -> Outcome:
    outcome = Outcome(
        f"kill -9 {name}",
        f"SIGKILL of the {name} process under {writers} writers; `aos up` restarts it",
        "tests/test_supervision.py, cli/tests/test_processes.py",
    )
    load = Load(platform, cost_record, writers=writers)
    fault_at = 0.0

    async def scenario() -> None:
        nonlocal fault_at
        await asyncio.sleep(WARM_SECONDS)
        old = platform.pid(name)
        fault_at = time.monotonic()
        kill9(old)
        back = await wait_for_new_pid(platform, name, old)
        outcome.notes.append(f"restarted and ready {back:.1f} s after the kill")
        await asyncio.sleep(AFTER_SECONDS)

    await load.run_while(scenario)
    account(outcome, load, await count_cost_records(platform, load), fault_at)
    return outcome


async def redis_stopped(platform: Platform, writers: int) -> Outcome:
    outcome = Outcome(
        f"Redis stopped {OUTAGE_SECONDS:g} s",
        "SIGKILL of Redis under load, started again (empty) on the same port",
        "services/cost-intel/tests/records/test_idempotency_key_without_redis.py",
    )
    load = Load(platform, cost_record, writers=writers)
    fault_at = 0.0

    async def scenario() -> None:
        nonlocal fault_at
        await asyncio.sleep(WARM_SECONDS)
        fault_at = time.monotonic()
        platform.redis.kill()
        await asyncio.sleep(OUTAGE_SECONDS)
        platform.redis.start()
        await asyncio.sleep(AFTER_SECONDS)

    await load.run_while(scenario)
    account(outcome, load, await count_cost_records(platform, load), fault_at)
    return outcome


async def readiness_during_freeze(platform: Platform) -> list[str]:
    urls = {name: platform.service_url(name) for name in SERVICES}
    urls["gateway"] = platform.gateway
    answers = await asyncio.gather(*(timed_readiness(url) for url in urls.values()))
    return [
        f"/readyz of {name} while frozen: "
        + ("no answer within 3 s" if status is None else f"{status} in {took * 1000:.0f} ms")
        for name, (status, took) in zip(urls, answers, strict=True)
    ]


async def postgres_frozen(platform: Platform, writers: int) -> Outcome:
    outcome = Outcome(
        f"PostgreSQL frozen {OUTAGE_SECONDS:g} s",
        "SIGSTOP of the platform's own PostgreSQL (postmaster and backends), then SIGCONT",
        "libs/common/tests/test_readiness.py",
    )
    load = Load(platform, cost_record, writers=writers)
    fault_at = 0.0

    async def scenario() -> None:
        nonlocal fault_at
        await asyncio.sleep(WARM_SECONDS)
        fault_at = time.monotonic()
        with frozen(platform.postgres_processes()):
            await asyncio.sleep(2.0)
            outcome.notes.extend(await readiness_during_freeze(platform))
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - fault_at)))
        await asyncio.sleep(AFTER_SECONDS)

    await load.run_while(scenario)
    account(outcome, load, await count_cost_records(platform, load), fault_at)
    return outcome


async def audit_entries(platform: Platform, budget_ids: list[str]) -> dict[str, int]:
    rows = await query(
        platform,
        "SELECT entity_id, count(*) AS n FROM audit.entries WHERE tenant_id = $1"
        " AND entity_type = 'LIMIT' AND entity_id = ANY($2::text[]) GROUP BY entity_id",
        platform.tenant_id,
        budget_ids,
    )
    return {row["entity_id"]: int(row["n"]) for row in rows}


async def ledger_gaps(platform: Platform) -> int:
    [row] = await query(
        platform,
        "SELECT count(*) AS n, coalesce(max(seq) - min(seq) + 1, 0) AS span"
        " FROM audit.entries WHERE tenant_id = $1",
        platform.tenant_id,
    )
    return int(row["span"]) - int(row["n"])


async def ledger_down(platform: Platform, writers: int) -> Outcome:
    outcome = Outcome(
        f"Audit ledger down {LEDGER_OUTAGE_SECONDS:g} s",
        "SIGSTOP of audit-ledger while budgets are written (each owes one audit entry, sent "
        "through the outbox), then SIGCONT",
        "libs/common/tests/test_http_client_and_outbox.py",
    )
    load = Load(platform, user_budget, writers=writers)
    fault_at = 0.0
    ended_at = 0.0

    async def scenario() -> None:
        nonlocal fault_at, ended_at
        await asyncio.sleep(WARM_SECONDS)
        fault_at = time.monotonic()
        ledger = psutil.Process(platform.pid("audit-ledger"))
        with frozen([ledger]):
            await asyncio.sleep(LEDGER_OUTAGE_SECONDS)
        ended_at = time.monotonic()
        await asyncio.sleep(AFTER_SECONDS)

    await load.run_while(scenario)
    budget_ids = [reply["id"] for reply in load.acknowledged.values()]
    rows = await query(
        platform,
        "SELECT id FROM cost_intel.budgets WHERE tenant_id = $1 AND id = ANY($2::text[])",
        platform.tenant_id,
        budget_ids,
    )
    stored = {row["id"]: 1 for row in rows}
    outcome.acknowledged = len(budget_ids)
    outcome.stored = len(stored)
    outcome.lost = outcome.acknowledged - outcome.stored
    outcome.failed_attempts = load.failed_attempts()
    outcome.abandoned = len(load.abandoned)
    recovered = load.recovered_at(fault_at)
    outcome.recovery_seconds = None if recovered is None else recovered - fault_at
    note_failures(outcome, load)
    caught_up = await wait_for_audit(platform, budget_ids, ended_at)
    entries = await audit_entries(platform, budget_ids)
    outcome.duplicated = sum(n - 1 for n in entries.values() if n > 1)
    outcome.notes.append(
        f"audit entries: {len(entries)} of {len(budget_ids)} budgets"
        + (f", all present {caught_up:.1f} s after the ledger came back" if caught_up else "")
    )
    outcome.notes.append(f"gaps in the tenant's ledger sequence: {await ledger_gaps(platform)}")
    return outcome


async def wait_for_audit(platform: Platform, budget_ids: list[str], since: float) -> float | None:
    while time.monotonic() - since < CATCH_UP_LIMIT_SECONDS:
        if len(await audit_entries(platform, budget_ids)) == len(budget_ids):
            return time.monotonic() - since
        await asyncio.sleep(1.0)
    return None


Scenario = Callable[[Platform, int], Awaitable[Outcome]]


def scenarios() -> list[tuple[str, Scenario]]:
    return [
        ("kill -9 cost-intel", lambda p, w: kill_under_load(p, "cost-intel", w)),
        ("kill -9 tenants", lambda p, w: kill_under_load(p, "tenants", w)),
        ("kill -9 gateway", lambda p, w: kill_under_load(p, "gateway", w)),
        ("Redis stopped", redis_stopped),
        ("PostgreSQL frozen", postgres_frozen),
        ("Audit ledger down", ledger_down),
    ]


def summary_table(outcomes: list[Outcome]) -> Table:
    table = Table(title="Fault runs")
    for column in ("fault", "acked", "stored", "lost", "dup", "failed tries", "recovery"):
        table.add_column(column)
    for o in outcomes:
        recovery = "-" if o.recovery_seconds is None else f"{o.recovery_seconds:.1f} s"
        table.add_row(
            o.name,
            str(o.acknowledged),
            str(o.stored),
            str(o.lost),
            str(o.duplicated),
            str(o.failed_attempts),
            recovery,
        )
    return table


async def run(writers: int, console: Console) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("Starting aos up (embedded PostgreSQL, private Redis)")
        with started_platform() as platform:
            create_tenant(platform)
            for label, scenario in scenarios():
                progress.update(task, description=f"{label} under {writers} writers")
                outcomes.append(await scenario(platform, writers))
            progress.update(task, description="Stopping the platform")
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "RELIABILITY.md")
    args = parser.parse_args()
    httpx_logger_quiet()
    console = Console()
    outcomes = asyncio.run(run(args.writers, console))
    console.print(summary_table(outcomes))
    command = "uv run python tests/reliability/faults.py"
    if args.writers != 20:
        command += f" --writers {args.writers}"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = render(
        outcomes,
        command=command,
        when=when,
        cores=os.cpu_count() or 0,
        load_average=os.getloadavg()[0],
        root=ROOT,
    )
    write_text(args.output, report)
    console.print(f"Wrote {args.output}")
    raise SystemExit(1 if any(o.lost or o.duplicated for o in outcomes) else 0)


def httpx_logger_quiet() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)


if __name__ == "__main__":
    main()
