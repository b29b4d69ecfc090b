"""`aos prices ...`: the CLI helper mounts `prices_app` under the `aos` command.

`aos prices load FILE` checks a price-book document locally (same rules as the service), then PUTs
it to the cost-intel service with the operator key; it becomes the current version. The service
URL and key come from options, else AOS_COST_INTEL_URL / AOS_OPERATOR_KEY, else the credentials
file `aos up` wrote (AOS_DATA_DIR, default .aos).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from aos_cost_intel.domain.pricing import (
    PriceBookError,
    load_price_book_file,
    price_book_document,
    shipped_price_book,
)

prices_app = typer.Typer(help="The model price book of cost-intel.", no_args_is_help=True)
DEFAULT_URL = "http://127.0.0.1:8003"


@prices_app.callback()
def prices() -> None:
    """The model price book (USD cents per million tokens, per token type)."""


def _credentials() -> dict[str, Any]:
    path = Path(os.environ.get("AOS_DATA_DIR", ".aos")) / "credentials.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _target(url: str | None, key: str | None) -> tuple[str, str | None]:
    credentials = _credentials()
    services = credentials.get("services") or {}
    base = url or os.environ.get("AOS_COST_INTEL_URL") or services.get("cost-intel") or DEFAULT_URL
    operator_key = key or os.environ.get("AOS_OPERATOR_KEY") or credentials.get("operator_key")
    return str(base).rstrip("/"), operator_key


UrlOption = Annotated[str | None, typer.Option("--url", help="cost-intel base URL")]
KeyOption = Annotated[str | None, typer.Option("--key", help="operator key (aos_op_...)")]


@prices_app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="Price-book JSON: {version, prices: [...]}")],
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Load a price-book version and make it current."""
    console = Console()
    try:
        book = load_price_book_file(file)
    except OSError as error:
        console.print(f"[red]Cannot read {file}: {error.strerror}[/red]")
        raise typer.Exit(2) from None
    except PriceBookError as error:
        console.print(f"[red]Invalid price book: {error}[/red]")
        raise typer.Exit(2) from None
    base, operator_key = _target(url, key)
    if not operator_key:
        console.print(
            "[red]No operator key: pass --key, set AOS_OPERATOR_KEY or run `aos up`.[/red]"
        )
        raise typer.Exit(2)
    try:
        response = httpx.put(
            f"{base}/api/v1/cost/prices",
            json=price_book_document(book),
            headers={"X-AOS-Key": operator_key},
            timeout=30,
        )
    except httpx.HTTPError as error:
        console.print(f"[red]cost-intel at {base} is unreachable: {error}[/red]")
        raise typer.Exit(1) from None
    if response.status_code != 200:
        detail = (
            response.json().get("detail")
            if response.headers.get("content-type", "").endswith("json")
            else ""
        )
        console.print(f"[red]Refused ({response.status_code}): {detail or response.text}[/red]")
        raise typer.Exit(1)
    result = response.json()
    verb = "Loaded" if result["loaded"] else "Re-activated"
    console.print(
        f"{verb} price version [bold]{result['version']}[/bold] ({result['entries']} entries); "
        f"current version: {result['current_version']}"
    )


@prices_app.command("show")
def show(
    version: Annotated[str | None, typer.Option(help="a stored version (default: current)")] = None,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Print the price book the service is using."""
    console = Console()
    base, operator_key = _target(url, key)
    params = {"version": version} if version else {}
    try:
        response = httpx.get(
            f"{base}/api/v1/cost/prices",
            params=params,
            headers={"X-AOS-Key": operator_key or ""},
            timeout=30,
        )
    except httpx.HTTPError as error:
        console.print(f"[red]cost-intel at {base} is unreachable: {error}[/red]")
        raise typer.Exit(1) from None
    if response.status_code != 200:
        console.print(f"[red]Refused ({response.status_code}): {response.text}[/red]")
        raise typer.Exit(1)
    _print_book(console, response.json())


@prices_app.command("shipped")
def shipped(
    output: Annotated[Path | None, typer.Option(help="write the JSON here")] = None,
) -> None:
    """Print (or write) the price list shipped with this version of AOS, as a loadable file."""
    text = json.dumps(price_book_document(shipped_price_book()), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def _print_book(console: Console, book: dict[str, Any]) -> None:
    table = Table(
        title=f"Price book {book['version']} (current: {book['current_version']}), {book['unit']}"
    )
    for column in (
        "model",
        "provider",
        "input",
        "cache_read",
        "cache_creation",
        "output",
        "reasoning",
        "from",
    ):
        table.add_column(column)
    for entry in book["prices"]:
        table.add_row(
            entry["model"],
            entry["provider"],
            entry["input"],
            entry["cache_read"],
            entry["cache_creation"],
            entry["output"],
            entry["reasoning"],
            entry["effective_from"][:10],
        )
    console.print(table)
