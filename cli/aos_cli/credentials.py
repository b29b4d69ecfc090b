"""Files under the data directory that hold secrets, always written with mode 0600.

- `credentials.json` (API.md): gateway and service URLs, the operator key and the demo tenant's
  credentials. The operator key is generated once and reused by every later `aos up`.
- `secrets.json`: the internal context secret and the console JWT secret of this installation,
  generated once so that a local platform never runs on the public development defaults.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from pathlib import Path
from typing import Any

OPERATOR_KEY_PREFIX = "aos_op_"
_ALPHABET = string.ascii_letters + string.digits


def generate_operator_key() -> str:
    return OPERATOR_KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(40))


def write_private_json(path: Path, document: dict[str, Any]) -> None:
    """Write atomically; the file never exists, even briefly, with wider permissions than 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)


def read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return document if isinstance(document, dict) else {}


def _valid_operator_key(value: object) -> bool:
    return isinstance(value, str) and value.startswith(OPERATOR_KEY_PREFIX) and len(value) >= 32


def resolve_operator_key(path: Path, configured: str | None) -> str:
    """AOS_OPERATOR_KEY when set, else the key already in the credentials file, else a new one."""
    if configured:
        return configured
    existing = read_json(path).get("operator_key")
    if isinstance(existing, str) and _valid_operator_key(existing):
        return existing
    return generate_operator_key()


def resolve_secrets(path: Path, env: dict[str, str]) -> dict[str, str]:
    """Internal and JWT secrets: from the environment when set, else this installation's own."""
    stored = read_json(path)
    values = {
        "internal_secret": stored.get("internal_secret") or secrets.token_urlsafe(48),
        "jwt_secret": stored.get("jwt_secret") or secrets.token_urlsafe(48),
    }
    if values != {k: stored.get(k) for k in values}:
        write_private_json(path, values)
    return {
        "internal_secret": env.get("AOS_INTERNAL_SECRET") or values["internal_secret"],
        "jwt_secret": env.get("AOS_JWT_SECRET") or values["jwt_secret"],
    }


def credentials_document(
    *,
    gateway_url: str,
    service_urls: dict[str, str],
    operator_key: str,
    tenant_id: str | None = None,
    admin_key: str | None = None,
    console_token: str | None = None,
    otlp_grpc_endpoint: str | None = None,
) -> dict[str, Any]:
    """The shape API.md gives for `.aos/credentials.json`, plus where OTLP/gRPC is served."""
    return {
        "gateway_url": gateway_url,
        "services": dict(service_urls),
        "otlp_grpc_endpoint": otlp_grpc_endpoint,
        "operator_key": operator_key,
        "tenant_id": tenant_id,
        "admin_key": admin_key,
        "console_token": console_token,
    }
