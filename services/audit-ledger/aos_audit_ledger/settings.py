"""Settings of the audit-ledger service, read once from the environment."""

from __future__ import annotations

from aos_common.settings import ServiceSettings


class AuditLedgerSettings(ServiceSettings):
    service_name: str = "audit-ledger"
    port: int = 8004
    # AOS_LEDGER_SIGNING_KEY: base64 of a raw 32-byte Ed25519 private key. Without it a key is
    # generated into AOS_DATA_DIR on first start (fine for one instance; set it when scaling out).
    ledger_signing_key: str | None = None
