"""Settings of the tenants service, read once from the environment."""

from __future__ import annotations

from pydantic import Field

from aos_common.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings


class TenantsSettings(ServiceSettings):
    service_name: str = "tenants"
    port: int = 8001
    jwt_leeway_seconds: float = Field(default=5.0, ge=0, le=60)
    console_token_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    # The hard tenant budget lives in cost-intel; when it does not answer within this time the
    # run quota fails open (logged) and skips asking again for `cost_guard_retry_seconds`.
    cost_guard_enabled: bool = True
    cost_guard_timeout_seconds: float = Field(default=2.0, gt=0)
    cost_guard_retry_seconds: float = Field(default=30.0, ge=0)
    usage_flush_interval_seconds: float = Field(default=1.0, gt=0)

    def hs_jwt_secret(self) -> str | None:
        """The HS256 secret, unless production relies on JWKS and left the development default."""
        if self.environment == "production" and self.jwt_secret == DEVELOPMENT_JWT_SECRET:
            return None
        return self.jwt_secret
