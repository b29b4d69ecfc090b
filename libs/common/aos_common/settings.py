"""Base settings shared by every service; each service subclasses it once and reads it once.

Values come from the environment. Nothing in aos_common imports a service's settings: functions take
the values they need as arguments, and only the app factory reads a `ServiceSettings` instance.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_INTERNAL_SECRET = "aos-development-internal-secret-change-me"
DEVELOPMENT_JWT_SECRET = "aos-development-jwt-secret-change-me-please"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AOS_", extra="ignore", frozen=True)

    service_name: str = "aos"
    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/aos",
        validation_alias=AliasChoices("AOS_DATABASE_URL", "DATABASE_URL"),
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("AOS_REDIS_URL", "REDIS_URL"),
    )
    database_pool_size: int = 10
    internal_secret: str = DEVELOPMENT_INTERNAL_SECRET
    jwt_secret: str = DEVELOPMENT_JWT_SECRET
    jwt_jwks_url: str | None = None
    operator_key: str | None = None
    data_dir: str = ".aos"
    tenants_url: str = "http://127.0.0.1:8001"
    traces_url: str = "http://127.0.0.1:8002"
    cost_intel_url: str = "http://127.0.0.1:8003"
    audit_ledger_url: str = "http://127.0.0.1:8004"
    guard_logs_url: str = "http://127.0.0.1:8005"
    credential_cache_seconds: float = Field(default=5.0, ge=0, le=5.0)
    outbox_interval_seconds: float = 1.0
    revocation_refresh_seconds: float = Field(default=1.0, gt=0, le=4.0)
    telemetry_enabled: bool = True
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT")
    )

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_development(self) -> ServiceSettings:
        if self.environment == "production":
            if self.internal_secret == DEVELOPMENT_INTERNAL_SECRET:
                raise ValueError("AOS_INTERNAL_SECRET must be set outside development")
            if self.jwt_secret == DEVELOPMENT_JWT_SECRET and not self.jwt_jwks_url:
                raise ValueError(
                    "AOS_JWT_SECRET or AOS_JWT_JWKS_URL must be set outside development"
                )
        if self.operator_key is not None and (
            not self.operator_key.startswith("aos_op_") or len(self.operator_key) < 32
        ):
            raise ValueError(
                "AOS_OPERATOR_KEY must start with 'aos_op_' and be at least 32 characters"
            )
        return self

    def peer_urls(self) -> dict[str, str]:
        """Base URLs of the other services, by service name, for the ServiceClient."""
        return {
            "tenants": self.tenants_url,
            "traces": self.traces_url,
            "cost-intel": self.cost_intel_url,
            "audit-ledger": self.audit_ledger_url,
            "guard-logs": self.guard_logs_url,
        }
