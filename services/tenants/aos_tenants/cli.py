"""`aos tenants create`, `aos keys create`, `aos token`: Typer pieces the `aos` CLI mounts.

Tenant and key commands act on the database named by DATABASE_URL / AOS_DATABASE_URL (or
--database-url) as the platform operator; `aos token` needs only AOS_JWT_SECRET.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.exc import DBAPIError

from aos_common.errors import ProblemError
from aos_tenants import bootstrap
from aos_tenants.api_keys.schemas import ApiKeyCreate
from aos_tenants.settings import TenantsSettings
from aos_tenants.tokens import DEFAULT_TOKEN_TTL_SECONDS, mint_console_token

tenants_app = typer.Typer(help="Manage tenants (platform operator).", no_args_is_help=True)
keys_app = typer.Typer(help="Manage tenant API keys (platform operator).", no_args_is_help=True)
console = Console(stderr=True)


@tenants_app.callback()
def tenants_group() -> None:
    """Manage tenants (platform operator)."""


@keys_app.callback()
def keys_group() -> None:
    """Manage tenant API keys (platform operator)."""


DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="PostgreSQL URL (default: DATABASE_URL/AOS_DATABASE_URL)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _database_url(option: str | None) -> str:
    return option or TenantsSettings().database_url


def _invalid(error: ValidationError) -> typer.Exit:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    console.print(f"[red]error:[/red] {field}: {first['msg']}")
    return typer.Exit(1)


def _run(coroutine: Any) -> Any:
    """Run an operator action; expected failures become a one-line message and exit code 1."""
    try:
        return asyncio.run(coroutine)
    except ProblemError as error:
        console.print(f"[red]error:[/red] {error.detail}")
    except ValidationError as error:
        raise _invalid(error) from None
    except (DBAPIError, OSError) as error:
        console.print(
            f"[red]error:[/red] database unavailable or not migrated ({type(error).__name__}); "
            "run `aos migrate` first"
        )
    raise typer.Exit(1)


@tenants_app.command("create")
def create_tenant(
    name: Annotated[str, typer.Argument(help="Display name of the tenant.")],
    slug: Annotated[str | None, typer.Option(help="URL-safe unique slug.")] = None,
    plan: Annotated[str, typer.Option(help="free | pro | enterprise")] = "free",
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a tenant and print its initial admin API key (shown only this once)."""
    created = _run(bootstrap.create_tenant(_database_url(database_url), name, slug=slug, plan=plan))
    if as_json:
        typer.echo(created.model_dump_json())
        return
    console.print(f"Created tenant [bold]{created.id}[/bold] ({created.slug}, plan {created.plan})")
    console.print("Initial admin API key (store it now; it is never shown again):")
    typer.echo(created.initial_api_key.key)


@keys_app.command("create")
def create_key(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id (tnt_…) or slug.")],
    name: Annotated[str, typer.Option(help="Name of the key.")] = "cli key",
    permission: Annotated[
        list[str] | None,
        typer.Option("--permission", "-p", help="Permission (repeatable); default run:* read:*."),
    ] = None,
    admin: Annotated[bool, typer.Option(help="An admin key (role admin, permission *).")] = False,
    expires_in_days: Annotated[int | None, typer.Option(help="1-365 days.")] = None,
    rate_limit_rpm: Annotated[int | None, typer.Option(help="1-1000 requests/minute.")] = None,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key and print it (shown only this once)."""
    try:
        body = ApiKeyCreate(
            name=name,
            permissions=permission or None,
            expires_in_days=expires_in_days,
            rate_limit_rpm=rate_limit_rpm,
        )
    except ValidationError as error:
        raise _invalid(error) from None
    tenant_id, created = _run(
        bootstrap.create_key(_database_url(database_url), tenant, body, admin=admin)
    )
    if as_json:
        typer.echo(json.dumps({"tenant_id": tenant_id, **created.model_dump(mode="json")}))
        return
    console.print(f"Created key [bold]{created.id}[/bold] for {tenant_id} ({created.key_prefix}…)")
    console.print("Store it now; it is never shown again:")
    typer.echo(created.key)


def token_command(
    tenant_id: Annotated[str, typer.Option("--tenant-id", help="Tenant id (tnt_…).")],
    subject: Annotated[str, typer.Option("--subject", "--sub", help="User id (sub).")] = "console",
    role: Annotated[
        list[str] | None, typer.Option("--role", "-r", help="Role (repeatable); default admin.")
    ] = None,
    ttl_seconds: Annotated[
        int, typer.Option("--ttl-seconds", min=60, help="Lifetime in seconds.")
    ] = DEFAULT_TOKEN_TTL_SECONDS,
    secret: Annotated[
        str | None, typer.Option("--secret", help="HS256 secret (default: AOS_JWT_SECRET).")
    ] = None,
) -> None:
    """Mint a console JWT (HS256, aud aos-api) and print it."""
    token = mint_console_token(
        secret or TenantsSettings().jwt_secret,
        tenant_id=tenant_id,
        subject=subject,
        roles=role or ["admin"],
        ttl_seconds=ttl_seconds,
    )
    typer.echo(token)
