"""API key material: generation and hashing. Only the SHA-256 hex of a key is ever stored.

Pure functions, no I/O: the database layer stores what `generate_api_key` returns minus the key.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

API_KEY_PREFIX = "aos_"
OPERATOR_KEY_PREFIX = "aos_op_"
KEY_PREFIX_LENGTH = 12


@dataclass(frozen=True)
class GeneratedKey:
    key: str
    key_prefix: str
    key_hash: str


def hash_api_key(key: str) -> str:
    """SHA-256 hex of the full key: what the database holds and what lookups compare."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_prefix_of(key: str) -> str:
    """The first 12 characters, shown in listings so people can tell their keys apart."""
    return key[:KEY_PREFIX_LENGTH]


def generate_api_key() -> GeneratedKey:
    """`aos_` + token_urlsafe(32): 256 bits from the OS CSPRNG, URL- and header-safe."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return GeneratedKey(key=key, key_prefix=key_prefix_of(key), key_hash=hash_api_key(key))


def generate_operator_key() -> str:
    """A platform-operator credential for `AOS_OPERATOR_KEY` (`aos_op_` + 43 characters)."""
    return OPERATOR_KEY_PREFIX + secrets.token_urlsafe(32)
