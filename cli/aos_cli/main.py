"""The `aos` command: `up`, `migrate`, `status`, plus the commands the services contribute.

Heavy modules (SQLAlchemy, Alembic, drivers) are imported inside the commands that need them, so
`aos --help` and the contributed commands start quickly.

Sub-commands owned by service packages (tenants, keys, token, prices, bundle, ledger, gateway) are mounted
when their package offers them, so `aos` works with any subset installed.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from aos_cli.config import load_config
from aos_cli.demo import demo_app
from aos_cli.errors import AosError

# pgserver's platformdirs warns on machines without XDG_RUNTIME_DIR; it falls back correctly.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

app = typer.Typer(
    name="aos",
    help="AOS: the control plane beside AI agents in production.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(demo_app, name="demo")
console = Console()
OWN_COMMANDS = frozenset({"up", "migrate", "status"})


@app.callback()
def main(ctx: typer.Context) -> None:
    """AOS: the control plane beside AI agents in production."""
    if ctx.invoked_subcommand not in OWN_COMMANDS:
        from aos_cli.inherit import inherit_platform_environment

        inherit_platform_environment()


def fail(error: AosError) -> typer.Exit:
    """Print the error's one sentence (plain, unwrapped) and return the exit to raise."""
    typer.echo(error.sentence, err=True)
    return typer.Exit(error.exit_code)


@app.command()
def up() -> None:
    """Run the whole platform here; Ctrl-C stops everything.

    Starts embedded PostgreSQL and Redis under .aos/ unless DATABASE_URL / REDIS_URL are set,
    migrates, then runs the five services and the gateway.
    """
    from aos_cli.up import run_up

    try:
        config = load_config()
        code = run_up(config, console)
    except AosError as error:
        raise fail(error) from None
    raise typer.Exit(code)


@app.command()
def migrate(
    service: Annotated[
        str | None, typer.Option(help="Migrate only this service (e.g. tenants).")
    ] = None,
) -> None:
    """Bring every service schema to its latest migration (safe to run again)."""
    from aos_cli.checks import check_database_reachable, masked, validate_database_url
    from aos_cli.runtime import migratable_services, migrate_one, start_embedded_postgres

    try:
        config = load_config()
        services = migratable_services(service)
        if service is not None and not services:
            raise AosError(f"No migrations found for a service named {service!r}.")
        embedded = None
        if config.database_url is not None:
            database_url = validate_database_url(config.database_url)
            check_database_reachable(database_url)
        else:
            config.data_dir.mkdir(parents=True, exist_ok=True)
            embedded = start_embedded_postgres(config)
            database_url = embedded.url
        try:
            with Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
            ) as progress:
                task = progress.add_task("Migrations", total=len(services))
                for name, package in services:
                    progress.update(task, description=f"Migrations ({name})")
                    migrate_one(name, package, database_url)
                    progress.advance(task)
                progress.update(task, description="Migrations")
        finally:
            if embedded is not None:
                embedded.stop()
    except AosError as error:
        raise fail(error) from None
    names = ", ".join(name for name, _ in services) or "none"
    console.print(f"Migrated {masked(database_url)}: {names}.", soft_wrap=True)


@app.command()
def status() -> None:
    """Show the processes of the running platform and whether each answers /readyz."""
    from aos_cli.status import run_status

    try:
        code = run_status(load_config(), console)
    except AosError as error:
        raise fail(error) from None
    raise typer.Exit(code)


# (module, attribute, command name, kind): mounted when the owning package provides them.
CONTRIBUTED: tuple[tuple[str, str, str, str], ...] = (
    ("aos_tenants.cli", "tenants_app", "tenants", "group"),
    ("aos_tenants.cli", "keys_app", "keys", "group"),
    ("aos_tenants.cli", "token_command", "token", "command"),
    ("aos_cost_intel.cli", "prices_app", "prices", "group"),
    ("aos_guard_logs.cli", "bundle_app", "bundle", "group"),
    ("aos_audit_ledger.cli", "ledger_app", "ledger", "group"),
    ("aos_audit_ledger.cli", "audit_app", "audit", "group"),
    ("aos_gateway.cli", "gateway_app", "gateway", "group"),
)


def _contributed(module_name: str, attribute: str) -> Any | None:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    except Exception as error:  # a broken contributor must not take `aos up` down with it
        print(f"aos: skipping {module_name} ({type(error).__name__}: {error})", file=sys.stderr)
        return None
    return getattr(module, attribute, None)


def _requested_command(argv: list[str]) -> str | None:
    return next((arg for arg in argv[1:] if not arg.startswith("-")), None)


def mount_contributed(target: typer.Typer, argv: list[str] | None = None) -> list[str]:
    """Mount what service packages offer; skipped when `aos` runs one of its own commands,
    because importing every service package costs seconds that `aos up` should not pay."""
    if argv is not None and _requested_command(argv) in OWN_COMMANDS:
        return []
    mounted = []
    for module_name, attribute, name, kind in CONTRIBUTED:
        contributed = _contributed(module_name, attribute)
        if contributed is None:
            continue
        if kind == "group" and isinstance(contributed, typer.Typer):
            target.add_typer(contributed, name=name)
        elif kind == "command" and callable(contributed):
            target.command(name)(contributed)
        else:
            continue
        mounted.append(name)
    return mounted


mount_contributed(app, sys.argv)
