"""`aos tenants create|list|suspend`, `aos keys create|list|revoke`, `aos token`: Typer pieces the
`aos` CLI mounts.

Tenant and key commands act on the database named by DATABASE_URL / AOS_DATABASE_URL (or
--database-url) as the platform operator, through the same service functions as the API (so key
revocations are audited the same way); `aos token` needs only AOS_JWT_SECRET. Every expected failure
is one line on stderr and exit code 1, never a traceback. SQLAlchemy, pydantic models and the
service modules are imported inside the commands, so mounting these groups costs nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import typer

T = TypeVar("T")
MIN_SECRET_BYTES = 32
# aos_tenants.credentials.tokens' default (a test keeps them equal): importing PyJWT here costs a second.
DEFAULT_TOKEN_TTL_SECONDS = 12 * 3600
UNDEFINED_TABLE = "42P01"

tenants_app = typer.Typer(help="Manage tenants (platform operator).", no_args_is_help=True)
keys_app = typer.Typer(help="Manage tenant API keys (platform operator).", no_args_is_help=True)


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
TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant id (tnt_…) or slug.")]


def fail(sentence: str) -> NoReturn:
    """Print one sentence on stderr and exit 1."""
    typer.echo(f"error: {sentence}", err=True)
    raise typer.Exit(1)


def _masked(url: str) -> str:
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)


def _settings() -> Any:
    from pydantic import ValidationError

    from aos_tenants.settings import TenantsSettings

    try:
        return TenantsSettings()
    except ValidationError as error:
        fail(_first_error(error))


def _database_url(option: str | None) -> str:
    """The URL to use, refused in one sentence when it is not a PostgreSQL URL at all."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from aos_common.db import asyncpg_url

    url = option or _settings().database_url
    try:
        port = make_url(asyncpg_url(url)).port
        if port is not None and not 0 < port < 65536:
            raise ValueError(port)
    except (ArgumentError, ValueError):
        fail(
            f"{_masked(url)!r} is not a PostgreSQL URL; "
            "expected postgresql://user:password@host:port/database."
        )
    return url


def _first_error(error: Any) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return f"{field}: {message}" if field else f"{message}."


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def _database_sentence(error: Any, url: str) -> str:
    """One sentence for a driver error: not migrated, or the database's own first line."""
    original = getattr(error, "orig", None) or error
    text = _first_line(original)
    if getattr(original, "sqlstate", None) == UNDEFINED_TABLE:
        return f"The database at {_where(url)} is not migrated ({text}); run `aos migrate` first."
    return f"PostgreSQL at {_where(url)} refused the request ({text})."


def _first_line(error: BaseException) -> str:
    """The message without SQLAlchemy's `<class '...'>: ` prefix."""
    text = re.sub(r"^<class '[^']+'>:\s*", "", str(error).strip())
    return (text.splitlines() or [type(error).__name__])[0]


def _run(coroutine: Coroutine[Any, Any, T], url: str) -> T:
    """Run an operator action; every expected failure becomes one sentence and exit code 1."""
    from asyncpg import PostgresError
    from pydantic import ValidationError
    from sqlalchemy.exc import DBAPIError

    from aos_common.errors import ProblemError

    try:
        return asyncio.run(coroutine)
    except ProblemError as error:
        fail(str(error.detail))
    except ValidationError as error:
        fail(_first_error(error))
    except DBAPIError as error:
        if isinstance(error.orig, OSError):
            fail(f"Cannot connect to PostgreSQL at {_where(url)} ({_reason(error.orig)}).")
        fail(_database_sentence(error, url))
    except PostgresError as error:  # refused while connecting: no such database, bad password
        fail(f"Cannot connect to PostgreSQL at {_where(url)} ({_first_line(error)}).")
    except OSError as error:  # refused, unknown host, timeout: before the driver has a session
        fail(f"Cannot connect to PostgreSQL at {_where(url)} ({_reason(error)}).")


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return _first_line(error)


@tenants_app.command("create")
def create_tenant(
    name: Annotated[str, typer.Argument(help="Display name of the tenant.")],
    slug: Annotated[str | None, typer.Option(help="URL-safe unique slug.")] = None,
    plan: Annotated[str, typer.Option(help="free | pro | enterprise")] = "free",
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a tenant and print its initial admin API key (shown only this once)."""
    from aos_tenants.tenants import bootstrap

    url = _database_url(database_url)
    created = _run(bootstrap.create_tenant(url, name, slug=slug, plan=plan), url)
    if as_json:
        typer.echo(created.model_dump_json())
        return
    typer.echo(f"Created tenant {created.id} ({created.slug}, plan {created.plan})", err=True)
    typer.echo("Initial admin API key (store it now; it is never shown again):", err=True)
    typer.echo(created.initial_api_key.key)


@tenants_app.command("list")
def list_tenants(database_url: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """List every tenant, oldest first."""
    from aos_tenants.tenants import bootstrap

    url = _database_url(database_url)
    tenants = _run(bootstrap.list_tenants(url), url)
    if as_json:
        typer.echo(json.dumps([tenant.model_dump(mode="json") for tenant in tenants]))
        return
    for tenant in tenants:
        typer.echo(
            f"{tenant.id}  {tenant.slug:<24} {tenant.plan:<10} {tenant.status:<9} {tenant.name}"
        )


@tenants_app.command("suspend")
def suspend_tenant(
    tenant: Annotated[str, typer.Argument(help="Tenant id (tnt_…) or slug.")],
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Suspend a tenant: its new runs are refused until an operator makes it active again."""
    from aos_tenants.tenants import bootstrap

    url = _database_url(database_url)
    suspended = _run(bootstrap.suspend_tenant(url, tenant), url)
    if as_json:
        typer.echo(suspended.model_dump_json())
        return
    typer.echo(f"Suspended tenant {suspended.id} ({suspended.slug})")


@keys_app.command("create")
def create_key(
    tenant: TenantOption,
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
    from pydantic import ValidationError

    from aos_tenants.api_keys.schemas import ApiKeyCreate
    from aos_tenants.tenants import bootstrap

    try:
        body = ApiKeyCreate(
            name=name,
            permissions=permission or None,
            expires_in_days=expires_in_days,
            rate_limit_rpm=rate_limit_rpm,
        )
    except ValidationError as error:
        fail(_first_error(error))
    url = _database_url(database_url)
    tenant_id, created = _run(bootstrap.create_key(url, tenant, body, admin=admin), url)
    if as_json:
        typer.echo(json.dumps({"tenant_id": tenant_id, **created.model_dump(mode="json")}))
        return
    typer.echo(f"Created key {created.id} for {tenant_id} ({created.key_prefix}…)", err=True)
    typer.echo("Store it now; it is never shown again:", err=True)
    typer.echo(created.key)


@keys_app.command("list")
def list_keys(
    tenant: TenantOption,
    include_revoked: Annotated[
        bool, typer.Option("--include-revoked", help="Also list revoked keys.")
    ] = False,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """List a tenant's API keys (prefixes only: a key is never shown after its creation)."""
    from aos_tenants.tenants import bootstrap

    url = _database_url(database_url)
    tenant_id, keys = _run(bootstrap.list_keys(url, tenant, include_revoked=include_revoked), url)
    if as_json:
        typer.echo(
            json.dumps({"tenant_id": tenant_id, "keys": [k.model_dump(mode="json") for k in keys]})
        )
        return
    for key in keys:
        typer.echo(f"{key.id}  {key.key_prefix}…  {key.status:<8} {key.name}")


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="Key id (key_…).")],
    tenant: TenantOption,
    reason: Annotated[
        str, typer.Option(help="Why (kept in the audit ledger).")
    ] = "Revoked by the platform operator",
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke an API key (irreversible; audited like a revocation through the API)."""
    from aos_tenants.tenants import bootstrap

    if not reason.strip() or len(reason) > 500:
        fail("--reason must be 1 to 500 characters.")
    url = _database_url(database_url)
    revoked = _run(bootstrap.revoke_key(url, tenant, key_id, reason=reason), url)
    if as_json:
        typer.echo(revoked.model_dump_json())
        return
    typer.echo(f"Revoked key {revoked.id} ({revoked.key_prefix}…)")


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
        str | None,
        typer.Option(
            "--secret", help=f"HS256 secret, {MIN_SECRET_BYTES}+ bytes (default: AOS_JWT_SECRET)."
        ),
    ] = None,
) -> None:
    """Mint a console JWT (HS256, aud aos-api) and print it."""
    from aos_tenants.credentials.tokens import mint_console_token

    key = secret or _settings().jwt_secret
    size = len(key.encode())
    if size < MIN_SECRET_BYTES:
        fail(
            f"The JWT secret is {size} bytes; HS256 needs at least {MIN_SECRET_BYTES} "
            "(generate one with `openssl rand -hex 32`)."
        )
    typer.echo(
        mint_console_token(
            key,
            tenant_id=tenant_id,
            subject=subject,
            roles=role or ["admin"],
            ttl_seconds=ttl_seconds,
        )
    )
