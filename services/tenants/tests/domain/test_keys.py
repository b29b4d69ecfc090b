"""Key material: format, prefix, hash."""

from __future__ import annotations

import hashlib

from aos_common.ids import new_id
from aos_tenants.domain.keys import generate_api_key, generate_operator_key, hash_api_key


def test_generated_key_format_prefix_and_hash() -> None:
    generated = generate_api_key()
    assert generated.key.startswith("aos_") and len(generated.key) == 47
    assert generated.key_prefix == generated.key[:12]
    assert generated.key_hash == hashlib.sha256(generated.key.encode()).hexdigest()
    assert hash_api_key(generated.key) == generated.key_hash


def test_keys_are_unique() -> None:
    assert len({generate_api_key().key for _ in range(1000)}) == 1000


def test_operator_key_satisfies_the_settings_rule() -> None:
    key = generate_operator_key()
    assert key.startswith("aos_op_") and len(key) >= 32


def test_ids_are_prefix_plus_16_hex() -> None:
    identifier = new_id("tnt_")
    assert identifier.startswith("tnt_") and len(identifier) == 20
    int(identifier[4:], 16)
