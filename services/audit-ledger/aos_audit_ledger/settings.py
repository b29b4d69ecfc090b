"""Settings of the audit-ledger service, read once from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import model_validator

from aos_audit_ledger.ledger.signing import load_signer
from aos_common.settings import ServiceSettings

MISSING_KEY = (
    "AOS_LEDGER_SIGNING_KEY (or AOS_LEDGER_SIGNING_KEY_FILE) must be set outside development: "
    "every replica has to sign tree heads with the same Ed25519 key, kept across restarts, or "
    "heads signed yesterday stop verifying. Generate one with `aos ledger keygen` and store it "
    "as a secret (docs/OPERATIONS.md, 'Ledger signing key')."
)

# The key docker-compose.yml and the dev overlay ship (k8s/overlays/dev): public, so never
# acceptable in production.
DEVELOPMENT_KEY_ID = "854dbb81fc19f5fb"


class AuditLedgerSettings(ServiceSettings):
    service_name: str = "audit-ledger"
    port: int = 8004
    # AOS_LEDGER_SIGNING_KEY: base64 of a raw 32-byte Ed25519 private key, or
    # AOS_LEDGER_SIGNING_KEY_FILE: a file holding it (a mounted secret). In development only, a
    # key is generated into AOS_DATA_DIR on first start when neither is set.
    ledger_signing_key: str | None = None
    ledger_signing_key_file: str | None = None
    # Comma-separated base64 raw public keys of retired signing keys; kept published so every
    # head they signed still verifies after a rotation.
    ledger_previous_public_keys: str = ""

    @model_validator(mode="after")
    def _refuse_a_missing_key_outside_development(self) -> AuditLedgerSettings:
        if self.environment != "production":
            return self
        key = self.signing_key()
        if not key:
            raise ValueError(MISSING_KEY)
        if load_signer(key, self.data_dir).key_id == DEVELOPMENT_KEY_ID:
            raise ValueError(
                "AOS_LEDGER_SIGNING_KEY is the development key published with the repository; "
                "generate a production key with `aos ledger keygen`"
            )
        return self

    def signing_key(self) -> str | None:
        """The configured private key, from the variable or else the file; None when neither
        holds one (an empty secret counts as none)."""
        if self.ledger_signing_key and self.ledger_signing_key.strip():
            return self.ledger_signing_key.strip()
        if self.ledger_signing_key_file:
            path = Path(self.ledger_signing_key_file)
            if not path.is_file():
                raise ValueError(f"AOS_LEDGER_SIGNING_KEY_FILE names {path}, which is not a file")
            return path.read_text().strip() or None
        return None

    def previous_public_keys(self) -> list[str]:
        return [key.strip() for key in self.ledger_previous_public_keys.split(",") if key.strip()]
