"""Every service's ORM models and its hand-written migrations describe the same tables: Alembic's
autogenerate comparison of the migrated schema with the models finds no difference.

Partitions created by migrations or at run time (`<table>_pYYYYMM`, `<table>_default`) are
Postgres' business, not the models'; they are left out of the comparison, as is Alembic's own
version table.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from aos_common.db import asyncpg_url
from aos_common.migrations import upgrade
from aos_common.services import SERVICES
from aos_common.testing import run_in_thread

PARTITION = re.compile(r".+_(y\d{4}m\d{2}|p\d{4,6}|\d{4}_\d{2}|default)$")


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if type_ == "table" and reflected and compare_to is None:
        return not (name == "alembic_version" or (name and PARTITION.match(name)))
    if type_ == "index" and reflected and compare_to is None:
        return not PARTITION.match(obj.table.name)
    return True


def _differences(connection: Connection, metadata: Any, schema: str) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "include_name": lambda name, type_, _: type_ != "schema" or name == schema,
            "include_object": _include,
            "compare_type": True,
            "compare_server_default": False,
        },
    )
    return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
async def test_models_and_migrations_agree(spec: Any, scratch_database: str) -> None:
    run_in_thread(lambda: upgrade(spec.package, scratch_database))
    metadata = importlib.import_module(f"{spec.package}.models").Base.metadata
    engine = create_async_engine(asyncpg_url(scratch_database))
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences, metadata, spec.schema)
    finally:
        await engine.dispose()
    assert differences == [], "\n".join(_describe(d) for d in differences)


def _describe(difference: Any) -> str:
    if (
        isinstance(difference, tuple)
        and difference
        and difference[0] in ("add_index", "remove_index")
    ):
        index = difference[1]
        return f"{difference[0]} {index.table.name}.{index.name}"
    if (
        isinstance(difference, tuple)
        and difference
        and difference[0] in ("add_table", "remove_table")
    ):
        return f"{difference[0]} {difference[1].name}"
    return str(difference)[:300]
