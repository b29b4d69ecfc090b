"""The `aos` command: `up`, `migrate`, `status`, plus the commands the services contribute.

`aos --help` must answer at once, so this module imports only Typer: heavy modules (SQLAlchemy,
Alembic, drivers, Rich's progress bars) are imported inside the commands that need them, and the
contributed groups (tenants, keys, token, prices, bundle, ledger, audit, gateway, demo) are listed
from the table below and imported only when one of them runs. A group is offered when its package
is installed, so `aos` works with any subset of the services.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

from aos_cli.errors import AosError

if TYPE_CHECKING:
    # Typer carries its own copy of click; its classes are the ones it hands back.
    from rich.console import Console
    from typer import _click as click

# pgserver's platformdirs warns on machines without XDG_RUNTIME_DIR; it falls back correctly.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
OWN_COMMANDS = frozenset({"up", "migrate", "status"})


class Contributed(NamedTuple):
    """A command another package offers; `help` is its one line in `aos --help` (a test keeps it
    equal to the real one), so listing it never imports the package."""

    name: str
    module: str
    attribute: str
    kind: str  # "group" (a typer.Typer) or "command" (a function)
    help: str


CONTRIBUTED: tuple[Contributed, ...] = (
    Contributed(
        "tenants", "aos_tenants.cli", "tenants_app", "group", "Manage tenants (platform operator)."
    ),
    Contributed(
        "keys",
        "aos_tenants.cli",
        "keys_app",
        "group",
        "Manage tenant API keys (platform operator).",
    ),
    Contributed(
        "token",
        "aos_tenants.cli",
        "token_command",
        "command",
        "Mint a console JWT (HS256, aud aos-api) and print it.",
    ),
    Contributed(
        "prices", "aos_cost_intel.cli", "prices_app", "group", "The model price book of cost-intel."
    ),
    Contributed(
        "bundle",
        "aos_guard_logs.cli",
        "bundle_app",
        "group",
        "Evidence bundles of guard-logs runs.",
    ),
    Contributed(
        "ledger",
        "aos_audit_ledger.cli",
        "ledger_app",
        "group",
        "The audit ledger's tree-head signing key.",
    ),
    Contributed(
        "audit",
        "aos_audit_ledger.cli",
        "audit_app",
        "group",
        "Export and verify a tenant's audit ledger.",
    ),
    Contributed(
        "gateway",
        "aos_gateway.cli",
        "gateway_app",
        "group",
        "The gateway's Traefik v3 routing document.",
    ),
    Contributed("demo", "aos_cli.demo", "demo_app", "group", "Demo data for the console."),
)


def available(contributed: Contributed) -> bool:
    """Whether the contributing package is installed (found on the path, not imported)."""
    return importlib.util.find_spec(contributed.module.split(".", 1)[0]) is not None


def load(contributed: Contributed) -> click.Command | None:
    """Import the contributed group or command; None when its package does not offer it."""
    try:
        module = importlib.import_module(contributed.module)
    except ImportError:
        return None
    except Exception as error:  # a broken contributor must not take the other commands down
        print(
            f"aos: skipping {contributed.module} ({type(error).__name__}: {error})", file=sys.stderr
        )
        return None
    offered = getattr(module, contributed.attribute, None)
    if contributed.kind == "group" and isinstance(offered, typer.Typer):
        return _plain(typer.main.get_group(offered))
    if contributed.kind == "command" and callable(offered):
        single = typer.Typer()
        single.command(contributed.name)(offered)
        return _plain(typer.main.get_command(single))
    return None


def _plain(command: click.Command) -> click.Command:
    """The same plain help as `aos --help` all the way down (see `app` below)."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    for child in getattr(command, "commands", {}).values():
        _plain(child)
    return command


class LazyGroup(TyperGroup):
    """The top-level group: contributed commands are imported when run, described from the table
    when only listed (help, completion of command names)."""

    _describing = False

    def _contributed(self) -> dict[str, Contributed]:
        return {c.name: c for c in CONTRIBUTED if c.name not in self.commands and available(c)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self._contributed()]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        contributed = self._contributed().get(cmd_name) if command is None else None
        if contributed is None:
            return command
        if self._describing:
            return TyperCommand(cmd_name, help=contributed.help or None, callback=None)
        loaded = load(contributed)
        if loaded is not None:
            self.commands[cmd_name] = loaded
        return loaded

    @contextmanager
    def describing(self) -> Iterator[None]:
        self._describing = True
        try:
            yield
        finally:
            self._describing = False

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with self.describing():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        with self.describing():
            return super().shell_complete(ctx, incomplete)


app = typer.Typer(
    name="aos",
    cls=LazyGroup,
    help="AOS: the control plane beside AI agents in production.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain Click help: importing Rich to draw boxes costs more than 0.5 s
)


def console() -> Console:
    from rich.console import Console

    return Console()


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"aos {version('aos-cli')}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """AOS: the control plane beside AI agents in production."""
    if ctx.invoked_subcommand not in OWN_COMMANDS and not ctx.resilient_parsing:
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
    from aos_cli.config import load_config
    from aos_cli.up import run_up

    try:
        config = load_config()
        code = run_up(config, console())
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
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from aos_cli.checks import check_database_reachable, masked, validate_database_url
    from aos_cli.config import load_config
    from aos_cli.runtime import migratable_services, migrate_one, start_embedded_postgres

    out = console()

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
                console=out,
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
    out.print(f"Migrated {masked(database_url)}: {names}.", soft_wrap=True)


@app.command()
def status() -> None:
    """Show the processes of the running platform and whether each answers /readyz."""
    from aos_cli.config import load_config
    from aos_cli.status import run_status

    try:
        code = run_status(load_config(), console())
    except AosError as error:
        raise fail(error) from None
    raise typer.Exit(code)
