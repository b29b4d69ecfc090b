"""The ledger's Ed25519 tree-head key: from AOS_LEDGER_SIGNING_KEY, or generated on first start.

A generated key is written to `<AOS_DATA_DIR>/audit-ledger/ledger-signing-key` (mode 0600, created
exclusively so two processes starting together agree on one key). Several replicas must share the
key: set AOS_LEDGER_SIGNING_KEY (a Kubernetes Secret) rather than relying on a local file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aos_common.merkle import tree_head_message

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
        # First 16 hex of SHA-256 of the raw public key: names the key without revealing more.
        self.key_id = hashlib.sha256(self.public_key_raw).hexdigest()[:16]

    def sign_tree_head(self, tenant_id: str, tree_size: int, root_hash: str, timestamp: str) -> str:
        message = tree_head_message(tenant_id, tree_size, root_hash, timestamp)
        return base64.b64encode(self.private_key.sign(message)).decode()


def _decode_key(encoded: str, source: str) -> Ed25519PrivateKey:
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise SigningKeyError(f"{source} is not valid base64") from error
    if len(raw) != 32:
        raise SigningKeyError(f"{source} must be a raw 32-byte Ed25519 private key (base64)")
    return Ed25519PrivateKey.from_private_bytes(raw)


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


def load_signer(configured_key: str | None, data_dir: str | Path) -> TreeHeadSigner:
    if configured_key:
        return TreeHeadSigner(_decode_key(configured_key, "AOS_LEDGER_SIGNING_KEY"))
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        _generate_into(path)
    return TreeHeadSigner(_decode_key(path.read_text(), str(path)))
