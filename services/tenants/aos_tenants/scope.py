"""The one helper every tenant-scoped statement goes through (reads, updates and deletes alike)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import BindParameter, Delete, Select, Update

from aos_common.db import tenant_scoped

StatementT = TypeVar("StatementT", Select[Any], Update, Delete)
# A tenant id, or a bound parameter for statements built once and executed with the id.
TenantRef = str | BindParameter[Any]


def scoped(statement: StatementT, tenant_column: Any, tenant_id: TenantRef) -> StatementT:
    """Restrict `statement` to one tenant; selects go through aos_common's `tenant_scoped`."""
    if isinstance(statement, Select):
        # A bound tenant id renders the very same predicate as a literal one.
        return tenant_scoped(statement, tenant_column, tenant_id)  # type: ignore[arg-type]
    return statement.where(tenant_column == tenant_id)
