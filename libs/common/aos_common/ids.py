"""Ids as API.md fixes them: a prefix and 16 lowercase hex characters (`tnt_`, `key_`, `run_`,
`cr_`, `al_`, `lx_`, `trace_`, ...), random so that no id tells how many came before it."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)
