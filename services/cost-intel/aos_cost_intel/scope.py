"""Tenant scope for cost-intel routes: the caller's tenant, or another one for operators."""

from __future__ import annotations

from aos_common.auth import Principal, scoped_tenant


def tenant_for(principal: Principal, tenant_id: str | None) -> str:
    return scoped_tenant(principal, tenant_id)
