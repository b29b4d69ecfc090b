"""`aos bundle ...`: the CLI helper mounts `bundle_app` under the `aos` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from aos_proofs.bundle import verify_bundle

bundle_app = typer.Typer(help="Evidence bundles of guard-logs runs.", no_args_is_help=True)


@bundle_app.callback()
def bundle() -> None:
    """Evidence bundles of guard-logs runs."""


@bundle_app.command("verify")
def verify(
    file: Annotated[
        Path, typer.Argument(help="The bundle zip (GET /api/v1/guard/logs/{id}/bundle)")
    ],
    public_key: Annotated[
        str | None,
        typer.Option(
            help="The ledger's Ed25519 public key (base64, GET /api/v1/audit/public-key); "
            "without it the key inside the bundle is trusted"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Check an evidence bundle offline; exit status 1 when any check fails."""
    report = verify_bundle(file, public_key=public_key)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        console = Console()
        for check in report.checks:
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            console.print(f"{mark} {check.name}: {check.detail}", highlight=False)
        passed = len(report.checks) - len(report.failures)
        verdict = "[green]VALID[/green]" if report.ok else "[red]INVALID[/red]"
        console.print(f"{verdict} {file}: {passed}/{len(report.checks)} checks passed")
    raise typer.Exit(0 if report.ok else 1)
