from datetime import date

import httpx
from sqlalchemy import text

from aos_common.state import service_state
from aos_cost_intel.records.partitions import ensure_partitions


async def test_monthly_partitions_are_created_ahead(client: httpx.AsyncClient) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    created = await ensure_partitions(app, today=date(2031, 12, 15))
    assert created == [
        f"cost_records_y{y}m{m:02d}"
        for y, m in ((2031, 11), (2031, 12), (2032, 1), (2032, 2), (2032, 3))
    ]
    async with service_state(app).engine.connect() as connection:
        bounds = await connection.scalar(
            text(
                "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'cost_intel' AND c.relname = 'cost_records_y2032m01'"
            )
        )
    assert "2032-01-01" in bounds and "2032-02-01" in bounds
    assert await ensure_partitions(app, today=date(2031, 12, 15)) == created


async def test_a_run_without_records_costs_nothing(client: httpx.AsyncClient, tenant: str) -> None:
    from aos_common.auth import service_principal, sign_context
    from aos_common.settings import DEVELOPMENT_INTERNAL_SECRET

    headers = sign_context(service_principal("guard-logs"), DEVELOPMENT_INTERNAL_SECRET)
    response = await client.get(
        "/internal/v1/cost/runs/run_none", params={"tenant_id": tenant}, headers=headers
    )
    assert response.json() == {"run_id": "run_none", "records": [], "total_cost_cents": "0"}
