"""The Typer commands `aos tenants create|list|suspend`, `aos keys create|list|revoke`, `aos token`."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket

import pytest
import typer
from typer.testing import CliRunner

from aos_common.testing.tenants import TEST_JWT_SECRET
from aos_tenants.cli import DEFAULT_TOKEN_TTL_SECONDS, keys_app, tenants_app, token_command
from aos_tenants.credentials import tokens
from aos_tenants.credentials.tokens import ConsoleTokenVerifier

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


def _tenant(url: str) -> dict[str, object]:
    slug = f"cli-{secrets.token_hex(3)}"
    created = runner.invoke(
        aos, ["tenants", "create", "Ops", "--slug", slug, "--database-url", url, "--json"]
    )
    assert created.exit_code == 0, created.output
    return json.loads(created.stdout)


def _one_line_error(result: object) -> str:
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    assert result.exception is None or isinstance(result.exception, SystemExit)  # type: ignore[attr-defined]
    lines = result.output.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in lines[0]
    return lines[0]


def test_tenants_list_shows_created_tenants_as_json(migrated_url: str) -> None:
    tenant = _tenant(migrated_url)
    listed = runner.invoke(aos, ["tenants", "list", "--database-url", migrated_url, "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert (
        rows[tenant["id"]]["slug"] == tenant["slug"] and "initial_api_key" not in rows[tenant["id"]]
    )


def test_tenants_suspend_by_slug_sets_status(migrated_url: str) -> None:
    tenant = _tenant(migrated_url)
    result = runner.invoke(
        aos, ["tenants", "suspend", tenant["slug"], "--database-url", migrated_url, "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "suspended"
    listed = json.loads(
        runner.invoke(aos, ["tenants", "list", "--database-url", migrated_url, "--json"]).stdout
    )
    assert next(row for row in listed if row["id"] == tenant["id"])["status"] == "suspended"


def test_tenants_suspend_unknown_tenant_is_one_line(migrated_url: str) -> None:
    result = runner.invoke(
        aos, ["tenants", "suspend", "nobody-here", "--database-url", migrated_url]
    )
    assert "Tenant nobody-here not found" in _one_line_error(result)


def test_keys_list_shows_prefixes_never_keys(migrated_url: str) -> None:
    tenant = _tenant(migrated_url)
    result = runner.invoke(
        aos, ["keys", "list", "--tenant", tenant["id"], "--database-url", migrated_url, "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["tenant_id"] == tenant["id"]
    assert [key["id"] for key in body["keys"]] == [tenant["initial_api_key"]["id"]]
    assert tenant["initial_api_key"]["key"] not in result.stdout


def test_keys_revoke_revokes_and_queues_an_audit_entry(migrated_url: str) -> None:
    tenant = _tenant(migrated_url)
    key_id = tenant["initial_api_key"]["id"]
    args = ["keys", "revoke", key_id, "--tenant", tenant["slug"], "--reason", "leaked in a log"]
    result = runner.invoke(aos, [*args, "--database-url", migrated_url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "revoked"
    listed = runner.invoke(
        aos, ["keys", "list", "--tenant", tenant["id"], "--database-url", migrated_url, "--json"]
    )
    assert json.loads(listed.stdout)["keys"] == []
    assert asyncio.run(_audit_reasons(migrated_url, key_id)) == ["leaked in a log"]


async def _audit_reasons(url: str, key_id: str) -> list[str]:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT payload->>'action_reason' AS reason FROM tenants.outbox "
            "WHERE payload->>'entity_id' = $1 AND payload->>'event_type' = 'ApiKeyRevoked'",
            key_id,
        )
    finally:
        await connection.close()
    return [row["reason"] for row in rows]


def test_keys_revoke_unknown_key_is_one_line(migrated_url: str) -> None:
    tenant = _tenant(migrated_url)
    result = runner.invoke(
        aos,
        ["keys", "revoke", "key_nope", "--tenant", tenant["id"], "--database-url", migrated_url],
    )
    assert "API key not found" in _one_line_error(result)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "is not a PostgreSQL URL"),
        ("mysql://user:pw@127.0.0.1/db", "is not a PostgreSQL URL"),
        ("postgresql://u@127.0.0.1:99999/db", "is not a PostgreSQL URL"),
        (
            "postgresql://u@127.0.0.1:{free}/db",
            "Cannot connect to PostgreSQL at 127.0.0.1:{free}/db",
        ),
    ],
    ids=["unparsable", "wrong-scheme", "port-out-of-range", "unreachable-host"],
)
def test_bad_database_url_is_one_line(url: str, expected: str) -> None:
    free = _free_port()
    result = runner.invoke(aos, ["tenants", "list", "--database-url", url.format(free=free)])
    assert expected.format(free=free) in _one_line_error(result)


def test_bad_database_url_hides_its_password() -> None:
    result = runner.invoke(
        aos, ["keys", "list", "--tenant", "x", "--database-url", "mysql://u:s3cret@h/db"]
    )
    line = _one_line_error(result)
    assert "s3cret" not in line and "u:***@h" in line


def test_missing_database_is_one_line(migrated_url: str) -> None:
    url = migrated_url.rsplit("/", 1)[0] + f"/missing_{secrets.token_hex(4)}"
    assert "does not exist" in _one_line_error(
        runner.invoke(aos, ["tenants", "list", "--database-url", url])
    )


def test_unmigrated_database_says_run_migrate(migrated_url: str) -> None:
    url = migrated_url.rsplit("/", 1)[0] + "/postgres"
    assert "run `aos migrate` first" in _one_line_error(
        runner.invoke(aos, ["tenants", "list", "--database-url", url])
    )


def test_token_refuses_a_short_secret() -> None:
    result = runner.invoke(
        aos, ["token", "--tenant-id", "tnt_0123456789abcdef", "--secret", "short"]
    )
    line = _one_line_error(result)
    assert "5 bytes" in line and "at least 32" in line
    assert "Warning" not in result.output


def test_token_default_lifetime_matches_the_tokens_module() -> None:
    assert DEFAULT_TOKEN_TTL_SECONDS == tokens.DEFAULT_TOKEN_TTL_SECONDS


def test_settings_refused_outside_development_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AOS_ENVIRONMENT", "production")
    monkeypatch.delenv("AOS_INTERNAL_SECRET", raising=False)
    line = _one_line_error(runner.invoke(aos, ["token", "--tenant-id", "tnt_0123456789abcdef"]))
    assert line == "error: AOS_INTERNAL_SECRET must be set outside development."
