"""`aos status`: which processes of the running platform answer /readyz."""

from __future__ import annotations

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from aos_cli.config import PlatformConfig
from aos_cli.errors import AosError
from aos_cli.state import read_state


def _alive(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _readiness(client: httpx.Client, url: str) -> str:
    try:
        response = client.get(url + "/readyz")
    except httpx.HTTPError:
        return "unreachable"
    return "ready" if response.status_code == 200 else f"not ready ({response.status_code})"


def run_status(config: PlatformConfig, console: Console) -> int:
    """Print a table of the platform's processes; 0 when every one is ready."""
    state = read_state(config.run_file)
    if state is None:
        raise AosError(f"AOS is not running from {config.data_dir}; start it with `aos up`.")
    table = Table(
        title=f"AOS (aos up pid {state.pid}, since {state.started_at})", title_justify="left"
    )
    for column in ("process", "pid", "URL", "state"):
        table.add_column(column)
    all_ready = True
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        for name, process in state.processes.items():
            alive = _alive(process.get("pid"))
            readiness = _readiness(client, str(process.get("url"))) if alive else "stopped"
            all_ready = all_ready and readiness == "ready"
            style = "green" if readiness == "ready" else "red"
            table.add_row(
                name,
                str(process.get("pid")),
                str(process.get("url")),
                f"[{style}]{readiness}[/{style}]",
            )
    for name, pid in state.embedded.items():
        table.add_row(f"{name} (embedded)", str(pid), "", "running" if _alive(pid) else "stopped")
    console.print(table)
    console.print(f"Database: {state.database}", soft_wrap=True)
    console.print(f"Redis: {state.redis}", soft_wrap=True)
    console.print(f"Credentials: {config.credentials_path}", soft_wrap=True)
    return 0 if all_ready else 1
