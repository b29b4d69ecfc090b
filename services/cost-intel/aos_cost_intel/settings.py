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
    reservation_pool_size: int = 10
    """Connections of the pool reservations are authorized on (reservations/pool.py)."""
    reservation_sweep_seconds: float = 1.0
    """How often held reservations past their expiry are released (0 disables the sweep)."""
    alert_interval_seconds: float = 10.0
    """How often budget alert thresholds are evaluated (0 disables the sweep)."""
    webhook_interval_seconds: float = 1.0
    """How often due webhook deliveries are sent (0 disables sending)."""
    webhook_max_attempts: int = 6
    webhook_backoff_seconds: float = 2.0
    """First retry delay of a failed webhook delivery; doubles each attempt (cap 5 minutes)."""
