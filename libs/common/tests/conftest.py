"""Fixtures for aos_common's own tests: a small app built with the factory, on real Postgres/Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy import text
from starlette.responses import Response

from aos_common.app import create_service_app
from aos_common.auth import InternalCallerDep, PrincipalDep, require_permission
from aos_common.callers import Caller, caller_with_permission, caller_with_role
from aos_common.db import SessionDep, create_engine
from aos_common.envelope import json_response
from aos_common.idempotency import idempotent
from aos_common.settings import ServiceSettings
from aos_common.testing import app_client, migrate
from aos_tenants.models import idempotency_keys


class Widget(BaseModel):
    name: str
    size: int


def build_router() -> APIRouter:
    router = APIRouter()

    @router.post("/widgets", status_code=201)
    async def create_widget(
        widget: Widget, request: Request, session: SessionDep, principal: PrincipalDep
    ) -> Response:
        assert principal.tenant_id is not None

        async def produce() -> Response:
            row = await session.execute(
                text("INSERT INTO common_test_widgets (name) VALUES (:name) RETURNING id"),
                {"name": widget.name},
            )
            return json_response({"id": row.scalar_one(), "name": widget.name}, 201)

        return await idempotent(request, session, principal.tenant_id, produce)

    @router.get("/guarded", dependencies=[require_permission("keys:create")])
    async def guarded() -> dict[str, str]:
        return {"ok": "yes"}

    @router.get("/callers/reader")
    async def reader(
        caller: Annotated[Caller, caller_with_permission("widgets:read", "read:widgets")],
    ) -> dict[str, str]:
        return {"tenant_id": caller.tenant_id, "actor": caller.actor}

    @router.get("/callers/admin")
    async def admin(
        caller: Annotated[Caller, caller_with_role("admin", detail="Admins only")],
    ) -> dict[str, str]:
        return {"tenant_id": caller.tenant_id}

    @router.get("/internal/v1/whoami")
    async def whoami(caller: InternalCallerDep) -> dict[str, str]:
        return {"principal_id": caller.principal_id}

    @router.post("/echo")
    async def echo(document: dict[str, Any]) -> Response:
        return json_response(document)

    @router.post("/counters", status_code=201)
    async def create_counter(value: int, session: SessionDep) -> Response:
        await session.execute(
            text("INSERT INTO common_test_counters (value) VALUES (:value)"), {"value": value}
        )
        return json_response({"value": value}, 201)

    @router.get("/lookup")
    async def lookup(secret: str, session: SessionDep) -> None:
        await session.execute(
            text("SELECT * FROM no_such_table WHERE name = :secret"), {"secret": secret}
        )

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    return router


async def _create_widget_table(database_url: str) -> None:
    engine = create_engine(database_url, application_name="common-test")
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE TABLE IF NOT EXISTS common_test_widgets (id serial PRIMARY KEY, name text)"
            )
        )
        await connection.execute(
            text("CREATE TABLE IF NOT EXISTS common_test_counters (value integer NOT NULL)")
        )
    await engine.dispose()


@pytest.fixture(scope="session")
def migrated_database_url(database_url: str) -> str:
    migrate("aos_tenants", database_url)
    asyncio.run(_create_widget_table(database_url))
    return database_url


@pytest.fixture(scope="session")
def settings(migrated_database_url: str, redis_url: str) -> ServiceSettings:
    return ServiceSettings(
        service_name="common-test",
        environment="test",
        database_url=migrated_database_url,
        redis_url=redis_url,
        telemetry_enabled=False,
    )


@pytest.fixture(scope="session")
def test_app(settings: ServiceSettings) -> FastAPI:
    return create_service_app(
        settings, title="common test app", routers=[build_router()], idempotency=idempotency_keys
    )


@pytest.fixture(scope="session")
async def client(test_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(test_app) as http_client:
        yield http_client


@pytest.fixture(scope="session")
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    connection = Redis.from_url(redis_url)
    yield connection
    await connection.aclose()
