"""Ids: a prefix and 16 lowercase hex characters (API.md Conventions)."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(8)}"
