"""The audit-ledger app on a real, migrated Postgres and a real Redis, shared by the session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from aos_audit_ledger.main import create_app
from aos_audit_ledger.settings import AuditLedgerSettings
from aos_common.testing import app_client, migrate


@pytest.fixture(scope="session")
def ledger_database_url(database_url: str) -> str:
    migrate("aos_audit_ledger", database_url)
    return database_url


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("aos-data")


@pytest.fixture(scope="session")
def settings(ledger_database_url: str, redis_url: str, data_dir: Path) -> AuditLedgerSettings:
    return AuditLedgerSettings(
        database_url=ledger_database_url,
        redis_url=redis_url,
        environment="test",
        telemetry_enabled=False,
        data_dir=str(data_dir),
        database_pool_size=10,
    )


@pytest.fixture(scope="session")
def app(settings: AuditLedgerSettings) -> FastAPI:
    return create_app(settings)


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as http_client:
        yield http_client
