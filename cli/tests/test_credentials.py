"""Secret-bearing files: mode 0600, generated once, reused after."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from aos_cli.credentials import (
    credentials_document,
    generate_operator_key,
    read_json,
    resolve_operator_key,
    resolve_secrets,
    write_private_json,
)


def test_operator_key_is_the_prefix_and_40_random_characters() -> None:
    key = generate_operator_key()
    assert re.fullmatch(r"aos_op_[A-Za-z0-9]{40}", key)
    assert key != generate_operator_key()


def test_private_files_are_written_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text("{}")
    path.chmod(0o644)
    write_private_json(path, {"a": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_json(path) == {"a": 1}


def test_the_operator_key_in_the_credentials_file_is_reused(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    first = resolve_operator_key(path, None)
    write_private_json(
        path,
        credentials_document(
            gateway_url="g",
            service_urls={},
            operator_key=first,
        ),
    )
    assert resolve_operator_key(path, None) == first


def test_a_configured_operator_key_wins(tmp_path: Path) -> None:
    configured = "aos_op_" + "x" * 40
    assert resolve_operator_key(tmp_path / "credentials.json", configured) == configured


def test_installation_secrets_are_generated_once_and_env_overrides_them(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    first = resolve_secrets(path, {})
    assert resolve_secrets(path, {}) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    overridden = resolve_secrets(path, {"AOS_JWT_SECRET": "from-env"})
    assert overridden == {"internal_secret": first["internal_secret"], "jwt_secret": "from-env"}


def test_credentials_document_has_the_api_md_fields_and_the_otlp_grpc_endpoint() -> None:
    document = credentials_document(
        gateway_url="http://127.0.0.1:8080",
        service_urls={"tenants": "http://127.0.0.1:8001"},
        operator_key="aos_op_k",
    )
    assert document == {
        "gateway_url": "http://127.0.0.1:8080",
        "services": {"tenants": "http://127.0.0.1:8001"},
        "otlp_grpc_endpoint": None,
        "operator_key": "aos_op_k",
        "tenant_id": None,
        "admin_key": None,
        "console_token": None,
    }
