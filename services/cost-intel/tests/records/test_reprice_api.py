import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from aos_cost_intel.models import outbox


@pytest.mark.usefixtures("restore_prices")
async def test_reprice_recomputes_derived_costs_only_and_is_audited(
    client: httpx.AsyncClient, admin: dict[str, str], operator: dict[str, str], tenant: str
) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    priced = {"model": "reprice-model", "input_tokens": 1_000_000, "occurred_at": start.isoformat()}
    first_version = "rp-" + secrets.token_hex(4)
    book = {
        "version": first_version,
        "prices": [{"pattern": "reprice-model", "input": "100", "output": "1"}],
    }
    await client.put("/api/v1/cost/prices", json=book, headers=operator)
    await client.post("/api/v1/cost/record", json=priced, headers=admin)
    await client.post("/api/v1/cost/record", json={**priced, "cost_cents": "42"}, headers=admin)
    await client.post(
        "/api/v1/cost/record", json={"model": "gpt-4o", "cost_cents": 1}, headers=admin
    )
    new_version = "rp-" + secrets.token_hex(4)
    book = {
        "version": new_version,
        "prices": [{"pattern": "reprice-model", "input": "150", "output": "1"}],
    }
    await client.put("/api/v1/cost/prices", json=book, headers=operator)

    window = {
        "from": (start - timedelta(minutes=1)).isoformat(),
        "to": datetime.now(UTC).isoformat(),
        "price_version": new_version,
    }
    response = await client.post("/api/v1/cost/reprice", json=window, headers=admin)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["repriced_count"], result["client_priced_count"]) == (1, 2)
    assert (result["previous_total_cents"], result["new_total_cents"]) == ("100", "150")
    assert result["audit_entry_id"].startswith("al_")
    summary = (await client.get("/api/v1/cost/summary", headers=admin)).json()
    assert Decimal(summary["total_cost_cents"]) == Decimal(150 + 42 + 1)
    by_model = (await client.get("/api/v1/cost/by-model", headers=admin)).json()["data"]
    assert {m["model"]: m["total_cost_cents"] for m in by_model} == {
        "reprice-model": "192",
        "gpt-4o": "1",
    }
    again = (await client.post("/api/v1/cost/reprice", json=window, headers=admin)).json()
    assert (again["repriced_count"], again["unchanged_count"]) == (0, 1)
    relay_rows = client._transport.app.state  # type: ignore[attr-defined]
    async with relay_rows.sessionmaker() as session:
        from sqlalchemy import select

        payloads = (
            await session.scalars(
                select(outbox.c.payload).where(outbox.c.id == result["audit_entry_id"])
            )
        ).all()
    assert payloads[0]["event_type"] == "CostRepriced"
    assert (payloads[0]["entity_type"], payloads[0]["entity_id"]) == (
        "PRICE_BOOK",
        result["price_version"],
    )
    assert payloads[0]["tenant_id"] == tenant


@pytest.mark.usefixtures("restore_prices")
async def test_reprice_needs_admin(client: httpx.AsyncClient, as_role) -> None:  # type: ignore[no-untyped-def]
    window = {
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-01-02T00:00:00Z",
        "price_version": "2025.11.0",
    }
    response = await client.post("/api/v1/cost/reprice", json=window, headers=as_role("developer"))
    assert response.status_code == 403


@pytest.mark.usefixtures("restore_prices")
async def test_reprice_to_an_unknown_version_is_404(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    window = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "price_version": "nope"}
    response = await client.post("/api/v1/cost/reprice", json=window, headers=admin)
    assert response.status_code == 404
    assert response.json()["detail"] == "Price version 'nope' not found"


@pytest.mark.usefixtures("restore_prices")
async def test_reprice_with_an_empty_window_is_400(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    window = {
        "from": "2026-01-02T00:00:00Z",
        "to": "2026-01-01T00:00:00Z",
        "price_version": "2025.11.0",
    }
    response = await client.post("/api/v1/cost/reprice", json=window, headers=admin)
    assert response.status_code == 400
    assert response.json()["detail"] == "'to' must be after 'from'"
