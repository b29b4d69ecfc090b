"""The guard-logs service app: customer log views, exports, evidence bundles."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from fastapi import FastAPI

from aos_common.app import create_service_app
from aos_guard_logs.exports import api as exports_api
from aos_guard_logs.logs import api as logs_api
from aos_guard_logs.models import outbox
from aos_guard_logs.settings import GuardLogsSettings


def create_app(
    settings: GuardLogsSettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    settings = settings or GuardLogsSettings()
    return create_service_app(
        settings,
        title="AOS guard-logs",
        routers=[exports_api.router, logs_api.router],
        outbox=outbox,
        transports=transports,
    )
