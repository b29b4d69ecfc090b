"""How fast `aos --help` answers: wall-clock and CPU seconds of the whole process, median of N runs.

    python bench/cli_help.py --before 9d6618c

`--before <git ref>` runs that commit's tree too (extracted with `git archive`, put first on
PYTHONPATH so it shadows this checkout's editable packages, same virtual environment). CPU seconds
(user + system, from the child's rusage) are the figure to compare on a shared machine: wall time
grows with the load average, which is printed beside it.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import write_performance_section

REPO = Path(__file__).resolve().parents[1]
PACKAGE_ROOTS = (
    "cli",
    "libs/common",
    "libs/proofs",
    "gateway",
    *(
        f"services/{name}"
        for name in ("tenants", "traces", "cost-intel", "audit-ledger", "guard-logs")
    ),
)
COMMANDS = (["--help"], ["--version"], ["tenants", "--help"])


def _run_once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    # not checked: `aos --version` before it existed answers a usage error, timed all the same
    subprocess.run(
        [sys.executable, "-m", "aos_cli", *args], env=env, capture_output=True, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(args: list[str], tree: Path | None, runs: int) -> tuple[float, float]:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join(str(tree / root) for root in PACKAGE_ROOTS)
    _run_once(args, env)  # warm the page cache and .pyc files
    samples = [_run_once(args, env) for _ in range(runs)]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def _verdict(seconds: float) -> str:
    return "met" if seconds < 0.5 else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", help="git ref to measure as well")
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        before_tree = None
        if options.before:
            archive = subprocess.run(
                ["git", "archive", options.before], cwd=REPO, capture_output=True, check=True
            )
            with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
                tar.extractall(scratch, filter="data")
            before_tree = Path(scratch)
        for args in COMMANDS:
            after = measure(args, None, options.runs)
            before = measure(args, before_tree, options.runs) if before_tree else None
            old = f"{before[0]:.2f} | {before[1]:.2f}" if before else "n/a | n/a"
            rows.append(f"| `aos {' '.join(args)}` | {old} | {after[0]:.2f} | {after[1]:.2f} |")
            if args == ["--help"]:
                help_wall, help_cpu = after
    load = os.getloadavg()[0]
    command = f"python bench/cli_help.py --runs {options.runs}" + (
        f" --before {options.before}" if options.before else ""
    )
    section = (
        "## cli_help\n\n"
        "Start-up of the `aos` command: median of "
        f"{options.runs} runs of `python -m aos_cli …`, wall-clock and CPU (user + system) "
        f"seconds; the machine's load average was {load:.1f} (2 cores), so wall time is inflated "
        "and CPU seconds are the figure to compare.\n"
        f"Command: `{command}`.\n\n"
        f"| command | before wall (s) | before CPU (s) | after wall (s) | after CPU (s) |\n"
        "|---|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
        "Before: `aos` imported every service package (SQLAlchemy, FastAPI, Redis, PyJWT) to mount "
        "their commands and Rich to draw the help. After: `aos --help` imports Typer alone (the "
        "contributed groups are listed from a table and imported when run; plain Click help). "
        "`aos --version` did not exist before (its row times the usage error).\n\n"
        f"Target (issue 18): `aos --help` under 0.5 s — {help_wall:.2f} s wall-clock "
        f"({_verdict(help_wall)}), {help_cpu:.2f} s of CPU ({_verdict(help_cpu)}).\n"
    )
    write_performance_section(section)
    print(section)


if __name__ == "__main__":
    main()
