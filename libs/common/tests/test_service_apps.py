"""Every service app serves /healthz, /readyz, /metrics and its OpenAPI document; migrations go up and down."""

from __future__ import annotations

import importlib

import pytest

from aos_common.migrations import downgrade, upgrade
from aos_common.services import SERVICES
from aos_common.testing import app_client, create_database, drop_database, migrate


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
async def test_service_app_answers_health_readiness_metrics_openapi(
    spec, database_url: str, redis_url: str
) -> None:
    migrate(spec.package, database_url)
    main = importlib.import_module(f"{spec.package}.main")
    settings_module = importlib.import_module(f"{spec.package}.settings")
    settings_class = next(
        value
        for name, value in vars(settings_module).items()
        if name.endswith("Settings") and name != "ServiceSettings"
    )
    app = main.create_app(
        settings_class(
            database_url=database_url,
            redis_url=redis_url,
            environment="test",
            telemetry_enabled=False,
        )
    )
    async with app_client(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
        metrics = await client.get("/metrics")
        assert "aos_http_requests_total" in metrics.text
        assert (await client.get("/openapi.json")).json()["openapi"].startswith("3.")


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_migrations_upgrade_downgrade_upgrade(spec, postgres_server_url: str) -> None:
    url = create_database(postgres_server_url, prefix="aos_migrations")
    try:
        upgrade(spec.package, url)
        downgrade(spec.package, url)
        upgrade(spec.package, url)
    finally:
        drop_database(url)


async def test_readyz_reports_unreachable_redis(database_url: str) -> None:
    from aos_tenants.main import create_app
    from aos_tenants.settings import TenantsSettings

    migrate("aos_tenants", database_url)
    app = create_app(
        TenantsSettings(
            database_url=database_url,
            redis_url="redis://127.0.0.1:1/0",
            environment="test",
            telemetry_enabled=False,
        )
    )
    async with app_client(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("unavailable")
