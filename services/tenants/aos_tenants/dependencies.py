"""Who may call the tenants routes, and on which tenant's data (aos_common.auth's Caller).

One alias per permission the contract names (API.md, Auth and tenants). The tenant is the
credential's; a `tenant_id` query parameter must equal it unless the caller is an operator.
Operator-only routes take `require_role("operator")`; the worker catalogue reads, which an
operator may browse without naming a tenant, take the principal and scope it themselves.
"""

from __future__ import annotations

from typing import Annotated

from aos_common.callers import Caller, caller_with_permission

TenantReaderDep = Annotated[Caller, caller_with_permission("read:tenant")]
UsageReaderDep = Annotated[Caller, caller_with_permission("read:usage")]
QuotaReaderDep = Annotated[Caller, caller_with_permission("read:quota")]
KeyReaderDep = Annotated[Caller, caller_with_permission("keys:read")]
KeyCreatorDep = Annotated[Caller, caller_with_permission("keys:create")]
KeyRevokerDep = Annotated[Caller, caller_with_permission("keys:revoke")]
RunStarterDep = Annotated[Caller, caller_with_permission("run:start")]
RunCompleterDep = Annotated[Caller, caller_with_permission("run:complete")]
RunsReaderDep = Annotated[Caller, caller_with_permission("read:runs")]
WorkersReaderDep = Annotated[Caller, caller_with_permission("read:workers")]
WorkersConfigurerDep = Annotated[Caller, caller_with_permission("workers:configure", "admin:*")]
