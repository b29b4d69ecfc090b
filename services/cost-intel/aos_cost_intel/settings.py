"""Settings of the cost-intel service, read once from the environment."""

from __future__ import annotations

from aos_common.settings import ServiceSettings


class CostIntelSettings(ServiceSettings):
    service_name: str = "cost-intel"
    port: int = 8003
    alert_webhook: str | None = None
    """AOS_ALERT_WEBHOOK: escalated anomalies are POSTed here as JSON."""
    detector_interval_seconds: float = 300.0
    """How often the scheduled detector runs (0 disables it)."""
    webhook_timeout_seconds: float = 5.0
    reservation_sweep_seconds: float = 1.0
    """How often held reservations past their expiry are released (0 disables the sweep)."""
