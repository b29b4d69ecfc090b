"""Settings of the traces service, read once from the environment."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from aos_common.settings import ServiceSettings


class TracesSettings(ServiceSettings):
    service_name: str = "traces"
    port: int = 8002
    # Mismatch notifications: a GitHub issue when token and repo are set, else a generic webhook.
    github_token: str | None = Field(
        default=None, validation_alias=AliasChoices("GITHUB_TOKEN", "github_token")
    )
    github_repo: str | None = Field(
        default=None, validation_alias=AliasChoices("GITHUB_REPO", "github_repo")
    )
    github_api_url: str = Field(
        default="https://api.github.com",
        validation_alias=AliasChoices("GITHUB_API_URL", "github_api_url"),
    )
    mismatch_webhook: str | None = Field(
        default=None, validation_alias=AliasChoices("AOS_MISMATCH_WEBHOOK", "mismatch_webhook")
    )
    notification_timeout_seconds: float = 10.0
    # Bulk ingestion limits (API.md): per call.
    batch_max_traces: int = 1_000
    batch_max_steps: int = 50_000
    # OTLP: a trace's root hash becomes final this long after its root span arrived; later
    # spans still join the trace but mark it amended (docs/OTEL.md).
    otlp_late_span_grace_seconds: float = Field(default=300.0, ge=0)
    # OTLP/gRPC (TraceService/Export) on its own port, started with the service; None turns it
    # off, 0 picks a free port. Same API keys as HTTP.
    otlp_grpc_port: int | None = Field(default=4317, ge=0, le=65535)
    otlp_grpc_host: str = "0.0.0.0"
