"""Settings of the guard-logs service, read once from the environment."""

from __future__ import annotations

from aos_common.settings import ServiceSettings


class GuardLogsSettings(ServiceSettings):
    service_name: str = "guard-logs"
    port: int = 8005
