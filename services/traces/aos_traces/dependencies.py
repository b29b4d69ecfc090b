"""Who may do what on the traces routes, and on which tenant's data.

Reads accept `traces:read` (or the generic `read:traces` a default API key carries through
`read:*`); writes need `traces:write`; retention, deletion and resolution need the admin role
(platform operators always pass). The tenant is the credential's; a `tenant_id` query parameter
must equal it unless the caller is an operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from aos_common.auth import Principal, PrincipalDep, TenantQuery, scoped_tenant
from aos_common.errors import Forbidden


@dataclass(frozen=True)
class Caller:
    principal: Principal
    tenant_id: str

    @property
    def actor(self) -> str:
        return self.principal.principal_id


def _caller(principal: Principal, tenant_id: str | None) -> Caller:
    return Caller(principal, scoped_tenant(principal, tenant_id))


async def _reader(principal: PrincipalDep, tenant_id: TenantQuery = None) -> Caller:
    if not (principal.has_permission("traces:read") or principal.has_permission("read:traces")):
        raise Forbidden("Requires permission traces:read")
    return _caller(principal, tenant_id)


async def _writer(principal: PrincipalDep, tenant_id: TenantQuery = None) -> Caller:
    if not principal.has_permission("traces:write"):
        raise Forbidden("Requires permission traces:write")
    return _caller(principal, tenant_id)


async def _admin(principal: PrincipalDep, tenant_id: TenantQuery = None) -> Caller:
    if not (principal.has_role("admin") or principal.is_operator):
        raise Forbidden("Requires admin or operator role")
    return _caller(principal, tenant_id)


ReaderDep = Annotated[Caller, Depends(_reader)]
WriterDep = Annotated[Caller, Depends(_writer)]
AdminDep = Annotated[Caller, Depends(_admin)]
