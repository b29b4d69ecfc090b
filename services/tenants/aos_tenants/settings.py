"""Settings of the tenants service, read once from the environment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aos_common.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings


class TenantsSettings(ServiceSettings):
    service_name: str = "tenants"
    port: int = 8001
    jwt_leeway_seconds: float = Field(default=5.0, ge=0, le=60)
    console_token_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    # Hard budgets live in cost-intel; when it does not answer within this time the run start
    # follows the budgets' on_unavailable policy (aos_tenants.runs.budget) and skips asking again
    # for `cost_guard_retry_seconds`; a tenant whose policy is not known yet gets
    # `cost_guard_unknown_policy`.
    cost_guard_enabled: bool = True
    cost_guard_timeout_seconds: float = Field(default=2.0, gt=0)
    cost_guard_retry_seconds: float = Field(default=30.0, ge=0)
    cost_guard_unknown_policy: Literal["deny", "allow"] = "deny"
    usage_flush_interval_seconds: float = Field(default=1.0, gt=0)

    def hs_jwt_secret(self) -> str | None:
        """The HS256 secret, unless production relies on JWKS and left the development default."""
        if self.environment == "production" and self.jwt_secret == DEVELOPMENT_JWT_SECRET:
            return None
        return self.jwt_secret
