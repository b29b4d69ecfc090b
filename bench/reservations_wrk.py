"""The wrk side of bench/reservations.py: the holds its settle runs take, the script of each wrk
process (reservations.lua, data written right before the run) and the runs themselves.

Why wrk: an httpx client in the bench's own process was the bottleneck (257 reserve/s where
`wrk -t1 -c50` drove the same server to 3,600-5,000); wrk costs a few µs of CPU per request.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
from load_generators import WRK_SCRIPT, Run, read_wrk_report, wrk_command

from aos_common.auth import Principal, sign_context
from aos_common.ids import new_id
from aos_cost_intel.reservations.batcher import HoldRequest, reserve_holds

LOGIC = Path(__file__).with_name("reservations.lua")
HOLD_BATCH = 256
HOLD_TTL_SECONDS = 3600  # the longest a reservation may be held: no hold expires mid-run


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit(
            "bench/reservations.py needs wrk (Debian/Ubuntu: apt install wrk): a Python load "
            "generator on the same machine measures itself, not the service"
        )


def signed_headers(tenants: Sequence[str], secret: str) -> list[dict[str, str]]:
    """A signed admin context per tenant, valid for 60 s from now."""
    return [
        sign_context(
            Principal(
                tenant_id=tenant,
                principal_id="bench",
                principal_type="user",
                roles=["admin"],
                permissions=[],
            ),
            secret,
        )
        for tenant in tenants
    ]


async def make_holds(
    database_url: str, tenants: Sequence[str], count: int, tenant_of: Callable[[int], int]
) -> list[tuple[str, int]]:
    """`count` holds of 1 cent made straight in the database by the statement the service's
    reservation batcher runs, `HOLD_BATCH` per statement: (reservation id, index in `tenants`).
    Made through the API they would take longer than the run that settles them."""
    holds = [(new_id("res_"), tenant_of(index)) for index in range(count)]
    connection = await asyncpg.connect(database_url)
    try:
        for start in range(0, count, HOLD_BATCH):
            now = datetime.now(UTC)
            requests = [
                HoldRequest(
                    tenant_id=tenants[tenant],
                    reservation_id=reservation_id,
                    amount=Decimal(1),
                    wanted=[("tenant", "")],
                    ttl_seconds=HOLD_TTL_SECONDS,
                    user_id=None,
                    feature_tag=None,
                    model=None,
                    run_id=None,
                    api_key_id=None,
                )
                for reservation_id, tenant in holds[start : start + HOLD_BATCH]
            ]
            rows = await reserve_holds(connection, requests, now.date(), now)
            if len(rows) != len(requests) or any(row["r_refused"] for row in rows):
                raise RuntimeError("a bench hold was refused or found no budget")
    finally:
        await connection.close()
    return holds


def lua_string(value: str) -> str:
    if not value.isascii():
        raise ValueError(f"not an ASCII Lua string: {value!r}")
    return json.dumps(value)  # ASCII JSON strings are Lua strings


@dataclass(frozen=True)
class Side:
    """One wrk process of a run: what its connections send, and how fast."""

    mode: str  # "reserve" or "settle"
    connections: int
    rate: float  # requests per second offered by all its connections; 0 saturates
    holds: Sequence[tuple[str, int]] = ()


def write_script(directory: Path, name: str, headers: list[dict[str, str]], side: Side) -> Path:
    """The wrk script of `side`: its data, then reservations.lua and wrk_report.lua."""
    tables = ",\n".join(
        "{" + ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in h.items()) + "}"
        for h in headers
    )
    lines = [f"HEADERS = {{\n{tables}\n}}", f"MODE = {lua_string(side.mode)}"]
    lines.append(f"RATE = {side.rate:g}")
    if side.mode == "settle":
        holds_file = directory / f"{name}.holds"
        holds_file.write_text("".join(f"{rid} {tenant + 1}\n" for rid, tenant in side.holds))
        lines.append(f"HOLDS_FILE = {lua_string(str(holds_file))}")
    lines += [f"dofile({lua_string(str(LOGIC))})", f"dofile({lua_string(str(WRK_SCRIPT))})"]
    script = directory / f"{name}.lua"
    script.write_text("\n".join(lines) + "\n")
    return script


def run_sides(
    url: str,
    seconds: float,
    sides: Sequence[Side],
    tenants: Sequence[str],
    secret: str,
    directory: Path,
) -> list[Run]:
    """The sides' wrk processes at once for `seconds`, each with contexts signed just now;
    every process has exited and been waited for on return (its CPU is in RUSAGE_CHILDREN)."""
    headers = signed_headers(tenants, secret)
    processes = []
    for index, side in enumerate(sides):
        script = write_script(directory, f"{side.mode}-{index}", headers, side)
        command = wrk_command(url, seconds, side.connections, script)
        processes.append(
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    outputs = [process.communicate(timeout=seconds + 60)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise RuntimeError(f"wrk exited with {process.returncode}:\n{output}")
    return [read_wrk_report(output, url) for output in outputs]


def holds_needed(seconds: float, side: Side, max_rate: float) -> int:
    """Holds enough for `side` over `seconds` (wrk's whole seconds): its paced rate with a
    margin, or `max_rate` when it saturates."""
    per_second = side.rate * 1.2 if side.rate else max_rate
    return math.ceil(max(1, math.ceil(seconds)) * per_second) + side.connections
