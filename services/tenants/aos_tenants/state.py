"""The tenants service's typed application state (aos_common.state): its settings class and the
local credential resolution (lookup engine, key usage tracker, resolver) and run cost guard."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aos_common.state import ServiceState, service_state

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.applications import Starlette

    from aos_tenants.credentials.resolver import LocalCredentialResolver
    from aos_tenants.credentials.usage_tracker import KeyUsageTracker
    from aos_tenants.runs.budget import CostGuard
    from aos_tenants.settings import TenantsSettings


class TenantsState(ServiceState):
    settings: TenantsSettings
    # Set by the resolver factory (aos_tenants.main), at the start of the lifespan:
    lookup_engine: AsyncEngine
    key_usage: KeyUsageTracker
    credential_resolver: LocalCredentialResolver
    cost_guard: CostGuard


def tenants_state(app: Starlette) -> TenantsState:
    return service_state(app, TenantsState)
