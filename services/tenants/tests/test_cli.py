"""The Typer commands `aos tenants create`, `aos keys create`, `aos token`."""

from __future__ import annotations

import asyncio
import json
import secrets

import typer
from typer.testing import CliRunner

from aos_tenants.cli import keys_app, tenants_app, token_command
from aos_tenants.testing import TEST_JWT_SECRET
from aos_tenants.tokens import ConsoleTokenVerifier

runner = CliRunner()
aos = typer.Typer()  # mounted the way the `aos` CLI mounts these pieces
aos.add_typer(tenants_app, name="tenants")
aos.add_typer(keys_app, name="keys")
aos.command("token")(token_command)


def test_tenants_create_then_keys_create(migrated_url: str) -> None:
    slug = f"cli-{secrets.token_hex(3)}"
    created = runner.invoke(
        aos,
        ["tenants", "create", "CLI Corp", "--slug", slug, "--database-url", migrated_url, "--json"],
    )
    assert created.exit_code == 0, created.output
    tenant = json.loads(created.stdout)
    assert tenant["slug"] == slug and tenant["initial_api_key"]["key"].startswith("aos_")
    key = runner.invoke(
        aos,
        [
            "keys",
            "create",
            "--tenant",
            slug,
            "--name",
            "deploy",
            "-p",
            "traces:write",
            "--database-url",
            migrated_url,
            "--json",
        ],
    )
    assert key.exit_code == 0, key.output
    body = json.loads(key.stdout)
    assert body["tenant_id"] == tenant["id"] and body["permissions"] == ["traces:write"]
    assert body["key_prefix"] == body["key"][:12]


def test_duplicate_slug_is_a_clean_error(migrated_url: str) -> None:
    slug = f"cli-{secrets.token_hex(3)}"
    args = ["tenants", "create", "Dup", "--slug", slug, "--database-url", migrated_url]
    assert runner.invoke(aos, args).exit_code == 0
    again = runner.invoke(aos, args)
    assert again.exit_code == 1
    assert f"Tenant slug '{slug}' already exists" in again.output


def test_keys_create_for_unknown_tenant_fails_cleanly(migrated_url: str) -> None:
    result = runner.invoke(
        aos, ["keys", "create", "--tenant", "no-such-tenant", "--database-url", migrated_url]
    )
    assert result.exit_code == 1 and "Tenant no-such-tenant not found" in result.output


def test_keys_create_validates_options(migrated_url: str) -> None:
    result = runner.invoke(
        aos,
        [
            "keys",
            "create",
            "--tenant",
            "x",
            "--expires-in-days",
            "999",
            "--database-url",
            migrated_url,
        ],
    )
    assert result.exit_code == 1 and "expires_in_days" in result.output


def test_token_command_mints_a_verifiable_token() -> None:
    result = runner.invoke(
        aos,
        [
            "token",
            "--tenant-id",
            "tnt_0123456789abcdef",
            "--sub",
            "alice",
            "-r",
            "viewer",
            "--secret",
            TEST_JWT_SECRET,
        ],
    )
    assert result.exit_code == 0, result.output
    claims = asyncio.run(
        ConsoleTokenVerifier(hs_secret=TEST_JWT_SECRET).verify(result.stdout.strip())
    )
    assert (claims.tenant_id, claims.subject, claims.roles) == (
        "tnt_0123456789abcdef",
        "alice",
        ("viewer",),
    )
