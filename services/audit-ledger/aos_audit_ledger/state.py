"""The audit-ledger service's typed application state (aos_common.state): its settings class
and the tree head signer loaded at start."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aos_common.state import ServiceState, service_state

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from aos_audit_ledger.ledger.signing import TreeHeadSigner
    from aos_audit_ledger.settings import AuditLedgerSettings


class AuditLedgerState(ServiceState):
    settings: AuditLedgerSettings
    signer: TreeHeadSigner  # set by the signing_key lifespan hook


def audit_ledger_state(app: Starlette) -> AuditLedgerState:
    return service_state(app, AuditLedgerState)
