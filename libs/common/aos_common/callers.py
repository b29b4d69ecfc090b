"""The caller of a public route: who is calling (aos_common.auth's principal) and the tenant the
request acts on — its own, or for an operator the one the `tenant_id` query parameter names.

Each service's dependencies.py names its callers once (`ReaderDep = Annotated[Caller,
caller_with_permission("read:cost")]`), so a route neither repeats the permission nor the
`tenant_id` parameter and its `scoped_tenant` call.

The caller dependency reads the principal and the `tenant_id` parameter itself instead of
declaring them as FastAPI parameters (`PrincipalDep`, a `Query`): FastAPI pays for every level of
a dependency tree and every declared parameter on every request, and the two took 9 % and 12 % of
a reservation's CPU (bench/reservations.py). `document_tenant_query` puts the parameter back in
the OpenAPI document, exactly as FastAPI would have described it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts

from aos_common.auth import OTHER_TENANT, Principal, get_principal
from aos_common.errors import BadRequest, Forbidden

TENANT_QUERY_NAME = "tenant_id"
TENANT_QUERY_MAX_LENGTH = 64
TENANT_QUERY_DESCRIPTION = "Must equal the caller's tenant unless the caller is an operator"

TenantQuery = Annotated[
    str | None, Query(max_length=TENANT_QUERY_MAX_LENGTH, description=TENANT_QUERY_DESCRIPTION)
]
"""The `tenant_id` query parameter API.md accepts wherever the legacy API had one (`scoped_tenant`),
for a route that declares it itself."""

TENANT_QUERY_PARAMETER: dict[str, Any] = {
    "name": TENANT_QUERY_NAME,
    "in": "query",
    "required": False,
    "schema": {
        "anyOf": [{"type": "string", "maxLength": TENANT_QUERY_MAX_LENGTH}, {"type": "null"}],
        "description": TENANT_QUERY_DESCRIPTION,
        "title": "Tenant Id",
    },
    "description": TENANT_QUERY_DESCRIPTION,
}
"""What FastAPI writes into the OpenAPI document for `TenantQuery`..."""
VALIDATION_ERROR_RESPONSE: dict[str, Any] = {
    "description": "Validation Error",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    },
}
"""...and the 422 answer it documents on an operation with any parameter."""


def scoped_tenant(principal: Principal, requested_tenant_id: str | None) -> str:
    """The tenant a request acts on: always the credential's, unless an operator names another."""
    if requested_tenant_id is not None and requested_tenant_id != principal.tenant_id:
        if not principal.is_operator:
            raise Forbidden(OTHER_TENANT)
        return requested_tenant_id
    if principal.tenant_id is None:
        raise BadRequest("tenant_id query parameter is required for platform-operator requests")
    return principal.tenant_id


def requested_tenant(request: Request) -> str | None:
    """The `tenant_id` query parameter, refused as FastAPI would refuse `TenantQuery` (the same
    422 problem) when it is longer than its limit."""
    value = request.query_params.get(TENANT_QUERY_NAME)
    if value is not None and len(value) > TENANT_QUERY_MAX_LENGTH:
        raise RequestValidationError(
            [
                {
                    "type": "string_too_long",
                    "loc": ("query", TENANT_QUERY_NAME),
                    "msg": f"String should have at most {TENANT_QUERY_MAX_LENGTH} characters",
                    "input": value,
                    "ctx": {"max_length": TENANT_QUERY_MAX_LENGTH},
                }
            ]
        )
    return value


@dataclass(frozen=True)
class Caller:
    """A public route's caller: the principal, and the tenant the request acts on."""

    principal: Principal
    tenant_id: str

    @property
    def actor(self) -> str:
        return self.principal.principal_id


async def _caller(request: Request) -> Caller:
    principal = await get_principal(request)
    return Caller(principal, scoped_tenant(principal, requested_tenant(request)))


def caller_with_permission(*permissions: str) -> Any:
    """Dependency: the Caller if its principal holds one of `permissions` (else 403 naming the
    first), acting on its own tenant or, for an operator, the one `tenant_id` names."""

    async def dependency(request: Request) -> Caller:
        caller = await _caller(request)
        if not any(caller.principal.has_permission(permission) for permission in permissions):
            raise Forbidden(f"Requires permission {permissions[0]}")
        return caller

    dependency.reads_tenant_query = True  # type: ignore[attr-defined]
    return Depends(dependency)


def caller_with_role(*roles: str, detail: str | None = None) -> Any:
    """Dependency: the Caller if its principal holds one of `roles` (operators always pass; else
    403 with `detail`, by default naming the roles), scoped like `caller_with_permission`."""

    async def dependency(request: Request) -> Caller:
        caller = await _caller(request)
        principal = caller.principal
        if not (principal.has_role(*roles) or principal.is_operator):
            raise Forbidden(detail or f"Requires role {' or '.join(roles)}")
        return caller

    dependency.reads_tenant_query = True  # type: ignore[attr-defined]
    return Depends(dependency)


def _reads_tenant_query(dependant: Dependant) -> bool:
    if getattr(dependant.call, "reads_tenant_query", False):
        return True
    return any(_reads_tenant_query(child) for child in dependant.dependencies)


def document_tenant_query(app: FastAPI) -> None:
    """Describe `tenant_id` in the app's OpenAPI document on every operation whose caller
    dependency reads it (it is not a declared FastAPI parameter, see the module doc)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI's, cached by FastAPI: patching it again changes nothing
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if not isinstance(route, APIRoute) or not _reads_tenant_query(route.dependant):
                continue
            operations = schema["paths"].get(context.path_format, {})
            for method in context.methods or ():
                operation = operations.get(method.lower())
                if operation is None:
                    continue
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == TENANT_QUERY_NAME for p in parameters):
                    parameters.append(dict(TENANT_QUERY_PARAMETER))
                operation.setdefault("responses", {}).setdefault("422", VALIDATION_ERROR_RESPONSE)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
