"""The ledger's Ed25519 tree-head key set: the current signing key and the retired public keys.

The current key comes from AOS_LEDGER_SIGNING_KEY (or the file AOS_LEDGER_SIGNING_KEY_FILE names,
e.g. a Compose or Kubernetes secret); every replica must be given the same one, which is why
production refuses to start without it (settings). In development only, a key is generated into
`<AOS_DATA_DIR>/audit-ledger/ledger-signing-key` (mode 0600, created exclusively so two processes
starting together agree on one key).

Rotation never orphans a signed head: the public keys of retired keys stay published
(AOS_LEDGER_PREVIOUS_PUBLIC_KEYS) and verification picks the key by the head's key id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from aos_proofs.ledger import tree_head_message

logger = logging.getLogger("aos.audit_ledger.signing")
KEY_FILE = Path("audit-ledger") / "ledger-signing-key"


class SigningKeyError(ValueError):
    """AOS_LEDGER_SIGNING_KEY or the key file does not hold a raw 32-byte Ed25519 key."""


class TreeHeadSigner:
    """Signs tree heads; the public key, its PEM and its id are derived once."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self.private_key = private_key
        public = private_key.public_key()
        self.public_key_raw = public.public_bytes_raw()
        self.public_key_b64 = base64.b64encode(self.public_key_raw).decode()
        self.public_key_pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        self.key_id = key_id_of(self.public_key_raw)
        self.previous: dict[str, str] = {}

    def retire(self, public_keys_b64: list[str]) -> TreeHeadSigner:
        """Publish retired public keys beside the current one, so heads they signed verify."""
        for encoded in public_keys_b64:
            raw = _decode_raw(encoded, "AOS_LEDGER_PREVIOUS_PUBLIC_KEYS")
            Ed25519PublicKey.from_public_bytes(raw)
            if raw != self.public_key_raw:
                self.previous[key_id_of(raw)] = base64.b64encode(raw).decode()
        return self

    def public_key_for(self, key_id: str) -> str | None:
        """The published base64 public key with this id, current or retired; None if unknown."""
        if key_id == self.key_id:
            return self.public_key_b64
        return self.previous.get(key_id)

    def published(self) -> list[tuple[str, str, bool]]:
        """(key id, base64 public key, is current) for every key a head may carry."""
        return [(self.key_id, self.public_key_b64, True)] + [
            (key_id, key, False) for key_id, key in sorted(self.previous.items())
        ]

    def sign_tree_head(self, tenant_id: str, tree_size: int, root_hash: str, timestamp: str) -> str:
        message = tree_head_message(tenant_id, tree_size, root_hash, timestamp)
        return base64.b64encode(self.private_key.sign(message)).decode()


def key_id_of(public_key_raw: bytes) -> str:
    """First 16 hex of SHA-256 of the raw public key: names the key without revealing more."""
    return hashlib.sha256(public_key_raw).hexdigest()[:16]


def _decode_raw(encoded: str, source: str) -> bytes:
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise SigningKeyError(f"{source} is not valid base64") from error
    if len(raw) != 32:
        raise SigningKeyError(f"{source} must hold raw 32-byte Ed25519 keys (base64)")
    return raw


def _decode_key(encoded: str, source: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_decode_raw(encoded, source))


def _generate_into(path: Path) -> None:
    """Write a new key atomically: a complete temporary file is hard-linked into place, so a
    concurrent starter either wins or reads the winner's complete key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = Ed25519PrivateKey.generate().private_bytes_raw()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(raw).decode() + "\n")
    try:
        os.link(temporary, path)
        logger.warning("generated a new ledger signing key at %s", path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)


def public_key_pem(public_key_b64: str) -> str:
    raw = _decode_raw(public_key_b64, "public key")
    return (
        Ed25519PublicKey.from_public_bytes(raw)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def new_private_key() -> tuple[str, str]:
    """A fresh (base64 private key, base64 public key) pair, for provisioning and rotation."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    return base64.b64encode(key.private_bytes_raw()).decode(), base64.b64encode(public).decode()


def load_signer(
    configured_key: str | None,
    data_dir: str | Path,
    previous_public_keys: list[str] | None = None,
) -> TreeHeadSigner:
    if configured_key:
        signer = TreeHeadSigner(_decode_key(configured_key, "AOS_LEDGER_SIGNING_KEY"))
    else:
        path = Path(data_dir) / KEY_FILE
        if not path.exists():
            _generate_into(path)
        signer = TreeHeadSigner(_decode_key(path.read_text(), str(path)))
    return signer.retire(previous_public_keys or [])
