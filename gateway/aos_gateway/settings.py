"""Settings of the gateway, read once from the environment (prefix `AOS_`)."""

from __future__ import annotations

from pydantic import Field

from aos_common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    port: int = 8080
    gateway_config: str | None = Field(
        default=None, description="Path of the Traefik v3 document; default gateway/dynamic.yml"
    )
    gateway_reload_seconds: float = Field(default=1.0, ge=0, description="0 disables hot reload")
    upstream_timeout_seconds: float = Field(default=30.0, gt=0)
    upstream_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    upstream_max_keepalive: int = Field(default=128, ge=0)
    upstream_max_connections: int = Field(
        default=256,
        ge=1,
        description="Connections open to one upstream server at most (idle ones included); "
        "a request past it waits for one to be released",
    )
    upstream_pool_wait_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a request past the connection cap waits before its 503",
    )
    upstream_keepalive_seconds: float = Field(
        default=4.0,
        gt=0,
        description="Below uvicorn's 5 s, so the gateway retires idle "
        "connections before the upstream closes them",
    )
    passive_ejection_seconds: float = Field(default=5.0, ge=0)
    auth_timeout_seconds: float = Field(default=5.0, gt=0)
    auth_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=5.0,
        description="Cache forward-auth grants per credential (≤ 5 s, the revocation bound); "
        "requests served from the cache are metered by the gateway (0: ask on every request)",
    )
    usage_report_seconds: float = Field(
        default=1.0, gt=0, description="How often metered cache hits are reported to the service"
    )
    budget_timeout_seconds: float = Field(default=2.0, gt=0)
    openapi_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long the merged /openapi.json is kept before the services are asked "
        "again (a partial one at most 5 s)",
    )
    gateway_redis_prefix: str = "aos:gw:rl"
