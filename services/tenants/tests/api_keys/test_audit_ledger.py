"""With the real audit-ledger service (in-process): key events land in the ledger, once each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from aos_common.auth import service_principal, sign_context
from aos_common.settings import DEVELOPMENT_INTERNAL_SECRET
from aos_common.state import service_state
from aos_common.testing import app_client, create_database, drop_database, migrate
from aos_common.testing.tenants import create_key, create_tenant
from aos_tenants.main import create_app
from aos_tenants.settings import TenantsSettings

ledger_main = pytest.importorskip("aos_audit_ledger.main")
ledger_settings = pytest.importorskip("aos_audit_ledger.settings")


@pytest.fixture(scope="module")
def own_database(postgres_server_url: str) -> Iterator[str]:
    """A database of its own: the session app's outbox relay must not deliver these entries."""
    url = create_database(postgres_server_url, prefix="aos_test_ledger")
    try:
        migrate("aos_tenants", url)
        migrate("aos_audit_ledger", url)
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="module")
async def wired(
    settings: TenantsSettings, own_database: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, object]]:
    ledger_app = ledger_main.create_app(
        ledger_settings.AuditLedgerSettings(
            database_url=own_database,
            redis_url=settings.redis_url,
            environment="test",
            telemetry_enabled=False,
        )
    )
    async with app_client(ledger_app) as ledger_client:
        tenants_app = create_app(
            settings.model_copy(update={"database_url": own_database}),
            transports={"audit-ledger": httpx.ASGITransport(app=ledger_app)},
        )
        async with app_client(tenants_app) as tenants_client:
            yield tenants_client, ledger_client, tenants_app


async def test_key_created_and_revoked_are_in_the_ledger(
    wired: tuple[httpx.AsyncClient, httpx.AsyncClient, object],
) -> None:
    tenants, ledger, tenants_app = wired
    tenant = await create_tenant(tenants, "Audited")
    key = await create_key(tenants, tenant, name="ledgered")
    revoked = await tenants.delete(f"/api/v1/tenant/api-keys/{key['id']}", headers=tenant.headers)
    assert revoked.status_code == 200
    relay = service_state(tenants_app).outbox_relay  # type: ignore[arg-type]
    headers = sign_context(service_principal("tenants"), DEVELOPMENT_INTERNAL_SECRET)
    path = f"/internal/v1/audit/entries?tenant_id={tenant.id}&entity_id={key['id']}"
    for _ in range(50):  # the background relay may hold a row; wait for whichever delivers
        await relay.deliver_pending()
        response = await ledger.get(path, headers=headers)
        assert response.status_code == 200, response.text
        entries = response.json()["entries"]
        if len(entries) >= 2:
            break
        await asyncio.sleep(0.1)
    await relay.deliver_pending()  # another pass delivers nothing twice
    entries = (await ledger.get(path, headers=headers)).json()["entries"]
    assert sorted(entry["event_type"] for entry in entries) == ["ApiKeyCreated", "ApiKeyRevoked"]
    assert key["key"] not in response.text
