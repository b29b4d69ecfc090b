"""Schema-1.1 hashing on the ingest hot path.

Byte-for-byte the rules of aos_common.hashing (its canonical JSON is `json.dumps` with sorted
keys and compact separators), with the encoder built once instead of per call; the tests check
both against each other and against an independent implementation.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

import orjson

_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode
_encode_string = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
_sha256 = hashlib.sha256


# orjson writes the same bytes as the canonical `json.dumps` for ASCII strings, integers within
# 64 bits, booleans, null and floats written without an exponent, except for 1e-5 <= |x| < 1e-4
# (orjson writes 0.0000..., Python 1e-05) and DEL (escaped only by Python). Anything that could
# differ takes the reference encoder.
_MAY_DIFFER = re.compile(rb"\de|0\.0000|null|\x7f")


def canonical_bytes(data: Any) -> bytes:
    try:
        fast = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        fast = None
    if fast is not None and fast.isascii() and not _MAY_DIFFER.search(fast):
        return fast
    return _ENCODE(data).encode()


def hash_data(data: Any) -> str:
    """`input_hash` / `output_hash`: first 16 hex of SHA-256 of the canonical JSON."""
    return _sha256(canonical_bytes(data)).hexdigest()[:16]


def _json_value(value: str | int | None) -> str:
    if value is None:
        return "null"
    if type(value) is str:
        return _encode_string(value)
    return _ENCODE(value)


def step_hash(
    step_index: int,
    skill_id: str | None,
    input_hash: str | None,
    output_hash: str | None,
    rng_state_before: str | None,
    outcome: str,
    idempotency_key: str | None,
    replay_behavior: str,
) -> str:
    """SHA-256 of the canonical JSON of the fixed step payload, written out directly (keys in
    sorted order, the same string escaping as `json.dumps`)."""
    canonical = (
        f'{{"idempotency_key":{_json_value(idempotency_key)},'
        f'"input_hash":{_json_value(input_hash)},'
        f'"outcome":{_json_value(outcome)},'
        f'"output_hash":{_json_value(output_hash)},'
        f'"replay_behavior":{_json_value(replay_behavior)},'
        f'"rng_state_before":{_json_value(rng_state_before)},'
        f'"skill_id":{_json_value(skill_id)},'
        f'"step_index":{_json_value(step_index)}}}'
    )
    return _sha256(canonical.encode()).hexdigest()


def chain_root(
    seed: int, frozen_timestamp: str | None, tenant_id: str, hashes: Iterable[str]
) -> str:
    """Fold step hashes (already in step_index order) into the root hash."""
    chain = _sha256(f"{seed}:{frozen_timestamp}:{tenant_id}".encode()).hexdigest()
    for value in hashes:
        chain = _sha256(f"{chain}:{value}".encode()).hexdigest()
    return chain
