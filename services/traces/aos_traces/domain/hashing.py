"""Schema-1.1 hashing on the ingest hot path.

Byte-for-byte the rules of aos_proofs.trace_hash (its canonical JSON is `json.dumps` with sorted
keys and compact separators), with the encoder built once instead of per call; the tests check
both against each other and against an independent implementation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import orjson

_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode
_encode_string = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
_sha256 = hashlib.sha256


# orjson writes the same bytes as the canonical `json.dumps` for ASCII strings, integers within
# 64 bits, booleans, null and floats written without an exponent, except for 1e-5 <= |x| < 1e-4
# (orjson writes 0.0000..., Python 1e-05), NaN and infinities (orjson writes null, Python NaN)
# and DEL (escaped only by Python). Anything that could differ takes the reference encoder. The
# exponent test looks for a digit followed by "e" in a copy with every digit folded to "0".
_DIGITS_TO_ZERO = bytes(48 if 48 <= byte <= 57 else byte for byte in range(256))


def orjson_canonical(data: Any) -> str | None:
    """The canonical text when orjson writes it (also the JSON text to store), else None."""
    try:
        fast = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return None
    if not fast.isascii():
        return None
    text = fast.decode()
    if (
        "null" in text
        or "0.0000" in text
        or "\x7f" in text
        or fast.translate(_DIGITS_TO_ZERO).find(b"0e") >= 0
    ):
        return None
    return text


def canonical_bytes(data: Any) -> bytes:
    fast = orjson_canonical(data)
    return fast.encode() if fast is not None else _ENCODE(data).encode()


def hash_data(data: Any) -> str:
    """`input_hash` / `output_hash`: first 16 hex of SHA-256 of the canonical JSON."""
    return _sha256(canonical_bytes(data)).hexdigest()[:16]


def hash_and_json(data: Any) -> tuple[str, str | None]:
    """`hash_data(data)` and, when orjson wrote the canonical form, that text: a caller that
    stores `data` unchanged can reuse it instead of serialising `data` a second time."""
    fast = orjson_canonical(data)
    if fast is not None:
        return _sha256(fast.encode()).hexdigest()[:16], fast
    return _sha256(_ENCODE(data).encode()).hexdigest()[:16], None


# Eight keys plus the five values that are always strings, two quotes each.
_FIXED_QUOTES = 2 * (8 + 5)


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
    sorted order, the same string escaping as `json.dumps`).

    Fast path: the strings pasted in raw, which is what `json.dumps` writes when every one is
    printable ASCII without quote or backslash; one check over the whole text (printable ASCII,
    no backslash, exactly the quotes the keys and string values account for) proves that.
    """
    if (
        type(step_index) is int
        and type(skill_id) is str
        and type(input_hash) is str
        and type(output_hash) is str
        and type(outcome) is str
        and type(replay_behavior) is str
        and (idempotency_key is None or type(idempotency_key) is str)
        and (rng_state_before is None or type(rng_state_before) is str)
    ):
        key = "null" if idempotency_key is None else f'"{idempotency_key}"'
        rng = "null" if rng_state_before is None else f'"{rng_state_before}"'
        canonical = (
            f'{{"idempotency_key":{key},"input_hash":"{input_hash}","outcome":"{outcome}",'
            f'"output_hash":"{output_hash}","replay_behavior":"{replay_behavior}",'
            f'"rng_state_before":{rng},"skill_id":"{skill_id}","step_index":{step_index}}}'
        )
        quotes = _FIXED_QUOTES
        if idempotency_key is not None:
            quotes += 2
        if rng_state_before is not None:
            quotes += 2
        if (
            canonical.isascii()
            and canonical.isprintable()
            and "\\" not in canonical
            and canonical.count('"') == quotes
        ):
            return _sha256(canonical.encode()).hexdigest()
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
