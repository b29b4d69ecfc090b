"""Tenant scope for cost-intel routes: the caller's tenant, or another one for operators."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from aos_common.auth import Principal, scoped_tenant

TenantQuery = Annotated[str | None, Query(max_length=64)]


def tenant_for(principal: Principal, tenant_id: str | None) -> str:
    return scoped_tenant(principal, tenant_id)
