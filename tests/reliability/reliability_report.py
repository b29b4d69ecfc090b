"""docs/RELIABILITY.md as the fault runs leave it: the measured runs, then every fault and attack
with the behaviour it gets and the test that guards it (each path checked to exist)."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# (fault or attack, behaviour, guarding tests): faults and guarantees that hold between runs.
GUARDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Redis stopped: three POSTs with one Idempotency-Key (no request_id)",
        "one row; the second and third are replays (201, `Idempotent-Replayed: true`); the key "
        "is recorded in Postgres in the write's transaction, Redis is only the fast path",
        (
            "services/cost-intel/tests/records/test_idempotency_key_without_redis.py",
            "services/cost-intel/tests/records/test_exactly_once_without_redis.py",
        ),
    ),
    (
        "A signed context minted by forward-auth before its key was revoked, replayed on "
        "service ports",
        "401 `Invalid API key` on all five service ports within 5 s: each service refreshes "
        "the keys revoked within a context's lifetime every second and refuses their contexts; "
        "with the tenants service unreachable for over 5 s, only key contexts signed in the last "
        "5 s pass",
        ("tests/test_revocation_everywhere.py", "libs/common/tests/test_revocation.py"),
    ),
    (
        "kill -9 of a service started by `aos up`",
        "restarted with backoff (1 s, doubling to 30 s) and logged; the others keep serving; "
        "Ctrl-C still stops every process",
        (
            "tests/test_supervision.py",
            "cli/tests/test_processes.py",
            "tests/test_platform.py",
        ),
    ),
    (
        "Database frozen (accepts connections, never answers)",
        "every service's /readyz answers 503 problem+json `Not ready: database unavailable` "
        "within a second (connection included), and 200 once it thaws",
        ("libs/common/tests/test_readiness.py",),
    ),
    (
        "Audit ledger unreachable",
        "writes keep succeeding; audit entries wait in each service's transactional outbox and "
        "are delivered once, in order, when the ledger is back",
        ("libs/common/tests/test_http_client_and_outbox.py",),
    ),
    (
        "Idempotency keys piling up in Postgres",
        "every service with idempotent routes deletes the keys past their 24 h lifetime in the "
        "background (every 10 min, 1,000 rows per transaction, at most 100 transactions a run, "
        "SKIP LOCKED, through an index on `created_at`); a key within its lifetime stays and its "
        "replay still returns the stored answer",
        ("libs/common/tests/test_idempotency_purge.py",),
    ),
    (
        "A background task stuck in a call that ignores cancellation at shutdown",
        "`PeriodicTask.stop` and the outbox relay's stop cancel and wait at most 5 s, then log "
        "the task left behind and return, so an app's lifespan teardown cannot hang on them",
        ("libs/common/tests/test_periodic.py",),
    ),
    (
        "One credential flooding the gateway before auth (a bad key is never cached, so each "
        "request asks forward-auth)",
        "forward-auth calls have a concurrency share of their own, keyed by the credential "
        "presented (by the client address without one), since the tenant is not known before "
        "auth: at most 32 in flight per credential and gateway replica; further requests with it "
        "wait for a slot, and after 5 s of waiting get 429 with `Retry-After: 1`; other "
        "credentials still ask",
        ("gateway/tests/middlewares/test_auth_share.py",),
    ),
)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|")


def _guards(root: Path, paths: Sequence[str]) -> str:
    return ", ".join(
        f"`{path}`" if (root / path).exists() else f"`{path}` (missing)" for path in paths
    )


def _first_docstring_line(path: Path) -> str:
    try:
        doc = ast.get_docstring(ast.parse(path.read_text()))
    except (OSError, SyntaxError):
        return ""
    return (doc or "").strip().split("\n\n")[0].replace("\n", " ")


def _reliability_suite(root: Path) -> list[str]:
    """The standing suite next to this runner (tests/reliability/test_*.py), whoever wrote it."""
    lines = []
    for path in sorted((root / "tests" / "reliability").glob("test_*.py")):
        relative = path.relative_to(root)
        lines.append(f"- `{relative}`: {_first_docstring_line(path)}")
    return lines


READING = (
    "Reading the figures: recovery after a kill -9 is mostly the restarted process's start-up on "
    "a machine this loaded (the supervisor's first backoff is 1 s). While cost-intel is down the "
    "gateway answers 502/503 (connection refused, then its circuit breaker open); while tenants "
    "is down forward-auth cannot verify keys, so every area answers 503; while the gateway is "
    'down nothing answers. With PostgreSQL frozen, requests in flight wait ("no answer" is the '
    'client\'s 10 s timeout), a retry of an operation still blocked gets 409 "in progress", and '
    "every operation completes once PostgreSQL resumes. No fault lost or duplicated an "
    "acknowledged write."
)


def render(
    outcomes: Sequence[Any],
    *,
    command: str,
    when: str,
    cores: int,
    load_average: float,
    root: Path,
) -> str:
    lines = [
        "# Reliability",
        "",
        "What AOS does when its processes and backends fail, measured by the fault runs, and the "
        "test that keeps each behaviour from regressing. This file is written by the fault "
        "runner; run it again after a change to the write path, the supervisor or the outbox.",
        "",
        "## Fault runs",
        "",
        f"Command: `{command}` (run {when}, {cores} CPU cores shared with other work, load "
        f"average {load_average:.1f} at the end of the run). A real "
        "`aos up` with its own embedded PostgreSQL and a private Redis; 20 writers post cost "
        "records (budgets for the ledger run) through the gateway, each operation with its own "
        "`Idempotency-Key` and no `request_id`, retried every 0.2 s until acknowledged (2xx). "
        "*Acknowledged* operations are those a client saw succeed; *stored* is what PostgreSQL "
        "holds for them afterwards; *duplicated* counts extra rows for one operation. *Failed "
        "tries* are client-visible failures that the writers retried. *Recovery* is the time "
        "from the fault to the first success after the last failure (it includes the imposed "
        "outage).",
        "",
        "| Fault | What was done | Acknowledged | Stored | Lost | Duplicated | Failed tries "
        "| Given up | Recovery | Guarded by |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        recovery = (
            "no failure seen" if o.recovery_seconds is None else f"{o.recovery_seconds:.1f} s"
        )
        lines.append(
            f"| {_cell(o.name)} | {_cell(o.fault)} | {o.acknowledged} | {o.stored} | {o.lost} "
            f"| {o.duplicated} | {o.failed_attempts} | {o.abandoned} | {recovery} "
            f"| {_guards(root, o.guard.split(', '))} |"
        )
    lines += ["", "Observed during the runs:", ""]
    for o in outcomes:
        for note in o.notes:
            lines.append(f"- {o.name}: {note}")
    lost = sum(o.lost for o in outcomes)
    duplicated = sum(o.duplicated for o in outcomes)
    lines += [
        "",
        f"Totals: {sum(o.acknowledged for o in outcomes)} acknowledged writes, {lost} lost, "
        f"{duplicated} duplicated.",
        "",
        READING if not (lost or duplicated) else READING.rsplit(". No fault", 1)[0] + ".",
        "",
        "## Faults and attacks, behaviour, guarding tests",
        "",
        "| Fault or attack | Behaviour | Guarded by |",
        "|---|---|---|",
    ]
    for fault, behaviour, paths in GUARDS:
        lines.append(f"| {_cell(fault)} | {_cell(behaviour)} | {_guards(root, paths)} |")
    suite = _reliability_suite(root)
    if suite:
        lines += ["", "The standing reliability suite (`tests/reliability/test_*.py`):", "", *suite]
    return "\n".join(lines) + "\n"
