"""Internal credential routes: `verify` for services, `forward` for the gateway / Traefik ForwardAuth,
`usage` for the API calls the gateway served from its cache of forward-auth grants.

Both resolve uncached, straight from Postgres: the callers cache for at most 5 s, which is what
bounds how long a revoked key keeps working anywhere.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from starlette.responses import Response

from aos_common.auth import (
    AUTHENTICATION_REQUIRED,
    INVALID_API_KEY,
    InternalCallerDep,
    Principal,
    extract_credential,
    operator_principal,
    sign_context,
)
from aos_common.envelope import json_response
from aos_common.errors import Forbidden, Unauthorized
from aos_tenants.credentials.resolver import LocalCredentialResolver
from aos_tenants.credentials.schemas import RecentRevocations, UsageReceipt, UsageReport
from aos_tenants.credentials.usage_tracker import accept_report
from aos_tenants.state import tenants_state

router = APIRouter(prefix="/internal/v1/auth", tags=["internal"])
INVALID_TOKEN = "Invalid or expired token"


async def resolve_request(request: Request, *, count_request: bool = False) -> Principal:
    """The principal behind the credential headers of `request` (never its signed context)."""
    credential = extract_credential(request.headers)
    if credential is None:
        raise Unauthorized(AUTHENTICATION_REQUIRED)
    operator_key = tenants_state(request.app).settings.operator_key
    if (
        operator_key
        and credential.kind == "api_key"
        and hmac.compare_digest(credential.value.encode(), operator_key.encode())
    ):
        return operator_principal()
    resolver: LocalCredentialResolver = tenants_state(request.app).credential_resolver
    if credential.kind == "api_key":
        principal = await resolver.resolve_api_key(credential.value, count_request=count_request)
        if principal is None:
            raise Unauthorized(INVALID_API_KEY)
    else:
        principal = await resolver.resolve(credential)
        if principal is None:
            raise Unauthorized(INVALID_TOKEN)
    if count_request and principal.tenant_id is not None:
        tenants_state(request.app).key_usage.api_call(principal.tenant_id)
    return principal


@router.get("/verify", response_model=Principal)
async def verify(request: Request, caller: InternalCallerDep) -> Response:
    """Resolve the forwarded credential headers to a principal (callers cache it ≤ 5 s)."""
    return json_response(await resolve_request(request))


@router.get("/forward", response_model=Principal)
@router.api_route(  # the same route for every other method, kept out of the OpenAPI document
    "/forward",
    methods=["HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
)
async def forward(request: Request) -> Response:
    """Traefik ForwardAuth: 200 with the principal as headers plus a signed context, or 401/403.

    Any method is accepted: Traefik asks with GET, but `preserveRequestMethod` (and other
    forward-auth proxies) repeat the client's method; the body is never read.

    No signed context is required here: Traefik cannot sign, the credential is the proof, and the
    path is internal (the gateway never routes /internal, NetworkPolicies keep it in-cluster).
    """
    forwarded_uri = request.headers.get("x-forwarded-uri", "")
    if forwarded_uri.startswith("/internal/"):
        raise Forbidden("Internal routes are not reachable through the gateway")
    principal = await resolve_request(request, count_request=True)
    response = json_response(principal)
    headers = sign_context(principal, tenants_state(request.app).settings.internal_secret)
    headers["X-AOS-Tenant-Id"] = principal.tenant_id or ""
    headers["X-AOS-Principal"] = principal.principal_id
    headers["X-AOS-Principal-Type"] = principal.principal_type
    headers["X-AOS-Roles"] = ",".join(principal.roles)
    if principal.key_id:
        headers["X-AOS-Key-Id"] = principal.key_id
    if principal.rate_limit_rpm is not None:
        headers["X-AOS-Rate-Limit-Rpm"] = str(principal.rate_limit_rpm)
    response.headers.update(headers)
    return response


@router.get("/revocations", response_model=RecentRevocations)
async def revocations(request: Request, caller: InternalCallerDep) -> Response:
    """Keys revoked or expired within a signed context's lifetime; every service asks each second
    and refuses those keys' contexts (aos_common.revocation)."""
    resolver: LocalCredentialResolver = tenants_state(request.app).credential_resolver
    key_ids = await resolver.recently_revoked()
    return json_response(RecentRevocations(key_ids=sorted(key_ids)))


@router.post("/usage", response_model=UsageReceipt)
async def report_usage(
    report: UsageReport, request: Request, caller: InternalCallerDep
) -> Response:
    """Meter API calls that a gateway let through on a cached forward-auth grant.

    A cached grant spares the forward call, and with it the count `forward` makes; the gateway
    counts those requests in Redis and reports them here in batches (aos_gateway's usage meter),
    so every API call is counted once. Only a service context may report (InternalCallerDep).
    """
    state = tenants_state(request.app)
    recorded = await accept_report(state.redis, state.key_usage, report)
    return json_response(UsageReceipt(batch_id=report.batch_id, recorded=recorded))
