"""`aos up`: the whole platform on this machine, stopped completely on Ctrl-C or SIGTERM.

Order: check the configuration (nothing started yet, so a bad one leaves nothing behind); start
the embedded servers that are needed; migrate; start the five services and the gateway; wait for
their /readyz; write the credentials; supervise until a signal (a child that exits is restarted
with backoff, the others keep serving); stop children, then embedded servers.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from aos_cli import bootstrap
from aos_cli.checks import (
    check_database_reachable,
    check_ports_free,
    check_redis_reachable,
    masked,
    validate_database_url,
    validate_redis_url,
)
from aos_cli.config import PlatformConfig
from aos_cli.console_build import (
    CONSOLE_BUILD_ENV,
    CONSOLE_DIR,
    BackgroundBuild,
    console_notes,
)
from aos_cli.credentials import (
    credentials_document,
    read_json,
    resolve_operator_key,
    resolve_secrets,
    write_private_json,
)
from aos_cli.errors import AosError
from aos_cli.processes import Child, Supervisor, SupervisorEvent
from aos_cli.runtime import (
    Backends,
    child_argv,
    child_env,
    migratable_services,
    migrate_one,
    start_embedded_postgres,
    start_embedded_redis,
)
from aos_cli.state import (
    RunState,
    clear_state,
    now_iso,
    own_process_identity,
    read_state,
    reap_stale,
    write_state,
)


class StopRequested(Exception):
    """Ctrl-C or SIGTERM arrived while starting; unwinds to the shutdown."""


class StopSignal:
    """Turns SIGINT/SIGTERM into a flag that the start-up steps and the main loop check."""

    def __init__(self) -> None:
        self.received: int | None = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum

    @property
    def requested(self) -> bool:
        return self.received is not None

    def check(self) -> None:
        if self.requested:
            raise StopRequested

    @contextmanager
    def installed(self) -> Iterator[StopSignal]:
        previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def preflight(config: PlatformConfig) -> None:
    """Every check that needs nothing started; raises AosError with one sentence."""
    if config.database_url is not None:
        validate_database_url(config.database_url)
    if config.redis_url is not None:
        validate_redis_url(config.redis_url)
    running = read_state(config.run_file)
    if running is not None:
        raise AosError(
            f"AOS is already running from {config.data_dir} (aos up, pid {running.pid}); "
            "stop it before starting another."
        )
    reap_stale(config.run_file)
    check_ports_free(config.processes)
    if config.database_url is not None:
        check_database_reachable(validate_database_url(config.database_url))
    if config.redis_url is not None:
        check_redis_reachable(config.redis_url)


def _start_backends(config: PlatformConfig, progress: Progress, stop: StopSignal) -> Backends:
    backends = Backends(database_url="", redis_url="")
    try:
        if config.database_url is None:
            task = progress.add_task("Embedded PostgreSQL", total=1)
            server = start_embedded_postgres(config)
            backends.embedded["postgres"] = server
            backends.database_url = server.url
            progress.update(task, completed=1)
        else:
            backends.database_url = validate_database_url(config.database_url)
        stop.check()
        if config.redis_url is None:
            task = progress.add_task("Embedded Redis", total=1)
            server = start_embedded_redis(config)
            backends.embedded["redis"] = server
            backends.redis_url = server.url
            progress.update(task, completed=1)
        else:
            backends.redis_url = config.redis_url
    except BaseException:
        backends.stop()
        raise
    return backends


def _migrate(database_url: str, progress: Progress, stop: StopSignal) -> None:
    services = migratable_services()
    task = progress.add_task("Migrations", total=len(services))
    for name, package in services:
        stop.check()
        progress.update(task, description=f"Migrations ({name})")
        migrate_one(name, package, database_url)
        progress.advance(task)
    progress.update(task, description="Migrations")


def _startup_failure(child: Child, config: PlatformConfig) -> AosError:
    process = config.process(child.name)
    if "address already in use" in child.log_tail(40).lower():
        return AosError(
            f"Port {process.port} ({child.name}) is already in use on {process.host}; "
            "stop what is listening there or set another port."
        )
    return AosError(
        f"The {child.name} process exited during start-up with code {child.exit_code()}; "
        f"see {child.log_path}."
    )


def _answers_ready(response: Any) -> bool:
    """200 from /readyz, and for the gateway every upstream seen up: its readiness leaves
    upstreams out (one down service must not take the edge out of rotation), but `aos up` saying
    ready while the gateway still answers 503 for a route would be a lie to whoever waits on it."""
    if response.status_code != 200:
        return False
    try:
        upstreams = response.json().get("upstreams")
    except ValueError:
        return True
    return not isinstance(upstreams, dict) or all(state == "up" for state in upstreams.values())


def _wait_ready(
    config: PlatformConfig, supervisor: Supervisor, progress: Progress, stop: StopSignal
) -> None:
    import httpx  # imported late: `aos up` with a bad configuration should fail fast

    pending = {child.name: child for child in supervisor.children}
    task = progress.add_task("Ready (/readyz)", total=len(pending))
    deadline = time.monotonic() + config.ready_timeout
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while pending:
            stop.check()
            for name, child in list(pending.items()):
                if child.exit_code() is not None:
                    raise _startup_failure(child, config)
                try:
                    response = client.get(config.process(name).url + "/readyz")
                except httpx.HTTPError:
                    continue
                if _answers_ready(response):
                    del pending[name]
                    progress.advance(task)
            if not pending:
                break
            progress.update(task, description=f"Ready (/readyz) - waiting for {', '.join(pending)}")
            if time.monotonic() > deadline:
                raise AosError(
                    f"{', '.join(sorted(pending))} did not become ready within "
                    f"{config.ready_timeout:g} seconds; see the logs in {config.logs_dir}."
                )
            time.sleep(0.25)
    progress.update(task, description="Ready (/readyz)")


def _write_credentials(
    config: PlatformConfig,
    backends: Backends,
    operator_key: str,
    secrets: dict[str, str],
    console: Console,
) -> None:
    demo = None
    if bootstrap.available():
        try:
            demo = bootstrap.bootstrap_demo(
                {
                    "database_url": backends.database_url,
                    "redis_url": backends.redis_url,
                    "tenants_url": config.process("tenants").url,
                    "gateway_url": config.gateway.url,
                    "operator_key": operator_key,
                    "jwt_secret": secrets["jwt_secret"],
                    "internal_secret": secrets["internal_secret"],
                    "data_dir": config.data_dir,
                    "existing": read_json(config.credentials_path),
                }
            )
        except Exception as error:
            console.print(f"[yellow]The demo tenant could not be created ({error}).[/yellow]")
    write_private_json(
        config.credentials_path,
        credentials_document(
            gateway_url=config.gateway.url,
            service_urls={p.name: p.url for p in config.services},
            operator_key=operator_key,
            tenant_id=demo.tenant_id if demo else None,
            admin_key=demo.admin_key if demo else None,
            console_token=demo.console_token if demo else None,
            otlp_grpc_endpoint=config.otlp_grpc_endpoint,
        ),
    )


def _summary(
    config: PlatformConfig, backends: Backends, console: Console, notes: list[str]
) -> None:
    table = Table(title="AOS is running", title_justify="left")
    table.add_column("process")
    table.add_column("URL")
    for process in (config.gateway, *config.services):
        table.add_row(process.name, process.url)
    console.print(table)
    console.print(f"Console: {config.gateway.url}/", soft_wrap=True)
    for note in notes:
        console.print(note, soft_wrap=True, markup=False)
    for label, server, url in (
        ("Database", "postgres", backends.database_url),
        ("Redis", "redis", backends.redis_url),
    ):
        origin = " (embedded)" if server in backends.embedded else ""
        console.print(f"{label}: {masked(url)}{origin}", soft_wrap=True)
    console.print(f"Credentials: {config.credentials_path}", soft_wrap=True)
    console.print(f"Logs: {config.logs_dir}", soft_wrap=True)
    console.print("Press Ctrl-C to stop.")


def _record_run(config: PlatformConfig, supervisor: Supervisor, backends: Backends) -> None:
    pid, create_time = own_process_identity()
    write_state(
        config.run_file,
        RunState(
            pid=pid,
            create_time=create_time,
            started_at=now_iso(),
            processes={
                child.name: {
                    "pid": child.pid,
                    "url": config.process(child.name).url,
                    "log": str(child.log_path),
                }
                for child in supervisor.children
            },
            embedded=backends.embedded_pids(),
            database=masked(backends.database_url),
            redis=masked(backends.redis_url),
            embedded_urls={name: server.url for name, server in backends.embedded.items()},
        ),
    )


def _report(event: SupervisorEvent, console: Console) -> None:
    child = event.child
    if event.kind == "exited":
        console.print(
            f"[yellow]{child.name} stopped unexpectedly (exit code {event.exit_code}); "
            f"restarting in {event.delay:g} s. See {child.log_path}.[/yellow]",
            soft_wrap=True,
        )
    else:
        console.print(f"{child.name} restarted (pid {child.pid}, restart {child.restarts}).")


def _supervise(
    config: PlatformConfig,
    supervisor: Supervisor,
    backends: Backends,
    stop: StopSignal,
    console: Console,
) -> None:
    """Until a stop is requested: restart children that exit, and keep run.json's PIDs true."""
    while not stop.requested:
        events = supervisor.poll()
        for event in events:
            _report(event, console)
        if any(event.kind == "restarted" for event in events):
            _record_run(config, supervisor, backends)
        time.sleep(0.2)


def _apply_secrets_to_self(secrets: dict[str, str], operator_key: str) -> None:
    """The demo bootstrap runs in this process and must sign with the children's secrets."""
    os.environ["AOS_INTERNAL_SECRET"] = secrets["internal_secret"]
    os.environ["AOS_JWT_SECRET"] = secrets["jwt_secret"]
    os.environ["AOS_OPERATOR_KEY"] = operator_key


def run_up(config: PlatformConfig, console: Console) -> int:
    """Run until stopped; returns the exit code. Raises AosError for a start-up problem."""
    stop = StopSignal()
    supervisor = Supervisor()
    backends: Backends | None = None
    with stop.installed():
        preflight(config)
        try:
            config.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AosError(
                f"Cannot create the data directory {config.data_dir} ({error.strerror})."
            ) from None
        console_build = BackgroundBuild(
            config.logs_dir / "console-build.log", CONSOLE_DIR.parent / ".aos" / "tools"
        )
        if os.environ.get(CONSOLE_BUILD_ENV, "1") != "0":
            console_build.start()
        try:
            env = dict(os.environ)
            secrets = resolve_secrets(config.data_dir / "secrets.json", env)
            operator_key = resolve_operator_key(
                config.credentials_path, env.get("AOS_OPERATOR_KEY")
            )
            stop.check()
            with _progress(console) as progress:
                backends = _start_backends(config, progress, stop)
                stop.check()
                _migrate(backends.database_url, progress, stop)
                for process in config.processes:
                    stop.check()
                    supervisor.spawn(
                        process.name,
                        child_argv(process),
                        child_env(env, config, process, backends, secrets, operator_key),
                        config.logs_dir / f"{process.name}.log",
                    )
                # Recorded before waiting, so that children of an `aos up` killed from here on
                # are found and stopped by the next one.
                _record_run(config, supervisor, backends)
                _wait_ready(config, supervisor, progress, stop)
            for child in supervisor.children:
                child.remember_descendants()
            _apply_secrets_to_self(secrets, operator_key)
            _write_credentials(config, backends, operator_key, secrets, console)
            admin_key = read_json(config.credentials_path).get("admin_key")
            notes = console_notes(config.gateway.url, admin_key, console_build)
            _summary(config, backends, console, notes)
            _supervise(config, supervisor, backends, stop, console)
            return 0
        except StopRequested:
            return 0
        finally:
            # Further signals are ignored until every child is gone.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if supervisor.children:
                console.print("Stopping AOS...")
            leftover = supervisor.stop_all()
            if backends is not None:
                backends.stop()
            clear_state(config.run_file)
            if leftover:
                console.print(f"[red]Processes still running after stop: {sorted(leftover)}[/red]")
