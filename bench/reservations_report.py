"""The "reservations" section of docs/PERFORMANCE.md, from bench/reservations.py's results:
method, command, machine, table, targets computed from the figures, and a short reading."""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass

from load_generators import Run, percentile
from reservations_wrk import Side

SECTION = "reservations"
TARGET_RATE = 5_000
TARGET_P99_MS = 10.0


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    distinct: bool  # over the 1,000 budgets, else one contended budget
    settle: bool  # a second wrk process settles holds made beforehand
    paced: bool  # the callers share a fixed schedule, else each calls again at once
    rate: float = 0.0  # paced: reserves/s offered, and as many settles/s
    old_path: bool = False  # the check-then-record path instead: guard, then record
    repeat: int = 0  # paced: which run at this rate (1-based), 0 when the rate runs once


@dataclass
class Result:
    scenario: Scenario
    sides: list[Side]
    reserve: Run
    settle: Run | None
    cpu: dict[str, float]  # CPU seconds of the run: service, postgres, wrk
    holds: int  # made for the settle process

    def calls(self) -> float:
        """Reserves, or reserve + settle pairs (the mean of the two counts) where both run."""
        if self.settle is None:
            return self.reserve.served
        return (self.reserve.served + self.settle.served) / 2

    def cpu_ms(self, name: str) -> float:
        return self.cpu[name] / self.calls() * 1000 if self.calls() else float("nan")

    def errors(self) -> int:
        return self.reserve.failed + (self.settle.failed if self.settle else 0)

    def out_of_holds(self) -> bool:
        if self.settle is None or not self.scenario.settle:
            return False
        return self.settle.served + self.settle.failed >= self.holds


def ms(run: Run | None, fraction: float) -> float:
    if run is None or not run.latency_us:
        return float("nan")
    return percentile(run.latency_us, fraction)


def mean_ms(run: Run) -> float:
    total = sum(run.latency_us.values())
    return sum(v * c for v, c in run.latency_us.items()) / total / 1000 if total else float("nan")


def latency(run: Run | None) -> str:
    return "—" if run is None else f"{ms(run, 0.5):.1f} / {ms(run, 0.99):.1f}"


def row(result: Result) -> str:
    scenario, settle = result.scenario, result.settle
    title = scenario.title
    if scenario.paced:
        title += f" ({scenario.rate:,.0f} + {scenario.rate:,.0f} calls/s offered"
        title += f", run {scenario.repeat})" if scenario.repeat else ")"
    cpu = " / ".join(f"{result.cpu_ms(name):.2f}" for name in ("service", "postgres", "wrk"))
    return (
        f"| {scenario.key}. {title} | {result.reserve.rate:,.0f} | "
        f"{'—' if settle is None else f'{settle.rate:,.0f}'} | {latency(result.reserve)} | "
        f"{latency(settle)} | {cpu} | {result.errors()} |"
    )


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def targets(results: dict[str, Result]) -> list[str]:
    lines = []
    if "a" in results:
        rate = results["a"].reserve.rate
        lines.append(
            f"- >= {TARGET_RATE:,} reserve/s on 1,000 distinct budgets (a): {rate:,.0f} "
            f"reserve/s — {verdict(rate >= TARGET_RATE)}."
        )
    paced_runs = [result for result in results.values() if result.scenario.paced]
    if paced_runs:
        lines.append(
            f"- p99 <= {TARGET_P99_MS:.0f} ms on one contended budget, 50 callers, reserve + "
            "settle (c, at each offered load; the worse of the reserve and settle p99):"
        )
    by_rate: dict[float, list[Result]] = {}
    for paced in paced_runs:
        by_rate.setdefault(paced.scenario.rate, []).append(paced)
    for offered, runs in by_rate.items():
        worst = [max(ms(run.reserve, 0.99), ms(run.settle, 0.99)) for run in runs]
        met = sum(1 for value in worst if value <= TARGET_P99_MS)
        short = [run.scenario.key for run in runs if not reached(run)]
        lines.append(
            f"  - {offered:,.0f} + {offered:,.0f} calls/s ({', '.join(r.scenario.key for r in runs)}):"
            f" p99 {' / '.join(f'{value:.1f}' for value in worst)} ms — "
            + (verdict(met == len(runs)) if len(runs) == 1 else f"met in {met} of {len(runs)} runs")
            + (f" (the offered rate was NOT reached in {', '.join(short)})." if short else ".")
        )
    return lines


def reached(paced: Result) -> bool:
    """Whether a paced run served (nearly) what it offered on both sides."""
    settled = paced.settle.rate if paced.settle else 0.0
    return min(paced.reserve.rate, settled) >= 0.95 * paced.scenario.rate


def reading(results: dict[str, Result], cores: int) -> list[str]:
    """Little's law for the saturating runs, and the rate the CPU per reserve alone allows."""
    notes = []
    if "b" in results:
        b = results["b"]
        connections = b.sides[0].connections
        notes.append(
            f"At saturation a closed loop's latency is its callers over its throughput (Little's "
            f"law): in b, {connections} reserving connections at {b.reserve.rate:,.0f} reserve/s "
            f"make {connections / b.reserve.rate * 1000 if b.reserve.rate else float('nan'):.1f} "
            f"ms on average (measured {mean_ms(b.reserve):.1f} ms), however fast each reserve "
            "is; so the saturating runs give throughput, and the latency target is read on the "
            "paced runs c, each at a stated load."
        )
    if "a" in results:
        a = results["a"]
        per = sum(a.cpu_ms(name) for name in ("service", "postgres", "wrk"))
        ceiling = cores / per * 1000 if per else float("nan")
        notes.append(
            f"CPU per reserve in a (service + PostgreSQL + wrk) is {per:.2f} ms: {cores} cores "
            f"kept busy by nothing else would allow about {ceiling:,.0f} reserve/s, against "
            f"{a.reserve.rate:,.0f} measured. The CPU per call moves less with what else the "
            "machine runs than the rates and latencies do (see the load average and the method "
            "notes above). The PostgreSQL "
            "column sums the bench database's backends; one that exits between two readings "
            "takes its CPU with it."
        )
    if "d" in results and "e" in results:
        d, e = results["d"], results["e"]
        cpu_d = sum(d.cpu_ms(name) for name in ("service", "postgres"))
        cpu_e = sum(e.cpu_ms(name) for name in ("service", "postgres"))
        notes.append(
            f"Against the path reservations replace, in the same run (d against e, 1,000 "
            f"budgets, saturating): {d.calls():,.0f} reserve + settle pairs against "
            f"{e.calls():,.0f} guard + record pairs, {d.calls() / e.calls():.2f} times as many "
            f"(ratio of the pairs counted); CPU per pair (service + PostgreSQL) {cpu_d:.2f} ms "
            f"against {cpu_e:.2f} ms, {cpu_d / cpu_e:.2f} times. The old path checks the budget "
            "and records afterwards with nothing held between the two, which is how it "
            "overshoots under concurrency (services/cost-intel/tests/reservations/"
            "test_invariant_live.py shows it "
            "does); a reservation holds the amount in the same step that checks it."
        )
    if any(result.out_of_holds() for result in results.values()):
        notes.append(
            "A settle process ran out of holds (its last calls were 404s, counted as errors): "
            "raise --max-settle-rate."
        )
    return notes


def render(
    args: argparse.Namespace,
    command: str,
    results: Sequence[Result],
    load: tuple[float, float, float],
    reference_ms: float,
) -> str:
    by_key = {result.scenario.key: result for result in results}
    cores = os.cpu_count() or 1
    workers = f"{args.workers} worker{'s' if args.workers > 1 else ''}"
    lines = [
        f"## {SECTION}",
        "",
        f"Budget reservations (issue 15): cost-intel under uvicorn ({workers}), driven by wrk "
        "(one thread per wrk process) over HTTP with signed contexts, on the same machine. Each "
        "scenario starts on a fresh database and a fresh service, with 1,001 hard daily tenant "
        "budgets created through the API (limits no run reaches) and the outbox emptied "
        "afterwards, the holds to settle made, then VACUUM (ANALYZE); "
        f"{args.warmup:.0f} s of warm-up, then {args.seconds:.0f} s measured. "
        f"{args.callers} callers (wrk connections) in all: a reserves 1 cent over the 1,000 "
        f"distinct budgets; b, c and d run two wrk processes at once, {args.callers // 2} "
        "connections reserving and the others settling (1 cent) holds made beforehand in the "
        "database (each settled once), on one contended budget (b, c) or the 1,000 (d). a, b "
        "and d saturate (each connection calls again as soon as it has its answer); in c each "
        "process's connections share a schedule of a fixed rate (each rate run --paced-repeats "
        "times, the spread between runs being what it is on a shared 2-core machine); e is d "
        "on the path reservations replace: 25 connections asking POST /api/v1/cost/guard (the "
        "check before work) and 25 recording 1 cent with POST /api/v1/cost/record (the cost "
        "after it), their counts in the reserve and settle columns. Latencies in ms (p50 / p99) "
        "as wrk sees them, from its own histogram per process. CPU per reserve in ms (b-d: per "
        "reserve + settle pair, the run's CPU over the mean of the two counts): the service "
        "(uvicorn and its workers), the PostgreSQL backends of the bench database, wrk.",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {cores} CPUs, {platform.python_implementation()} {platform.python_version()}; "
        f"load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min); "
        f"reference loop {reference_ms:.0f} ms (bench/_support.py `reference_loop_ms`: the "
        "machines sessions run on differ by 2x or more in speed).",
        "",
        "| scenario | reserve/s | settle/s | reserve p50 / p99 | settle p50 / p99 | "
        "CPU ms per reserve (service / PostgreSQL / wrk) | errors |",
        "|---|---|---|---|---|---|---|",
        *(row(result) for result in results),
        "",
        "Targets:",
        "",
        *targets(by_key),
        "",
        *(line for note in reading(by_key, cores) for line in (note, "")),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"
