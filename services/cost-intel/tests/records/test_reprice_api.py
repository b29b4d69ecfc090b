import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from aos_common.auth import Principal
from aos_common.state import service_state
from aos_cost_intel.models import outbox
from aos_cost_intel.records.reprice import CHUNK_SIZE, reprice
from aos_cost_intel.records.schemas import RepriceRequest
from aos_cost_intel.settings import CostIntelSettings

from .test_ingest_rollups import assert_rollups_match_records


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
    relay_rows = service_state(client._transport.app)  # type: ignore[attr-defined]
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


@pytest.mark.usefixtures("restore_prices")
async def test_a_window_larger_than_one_chunk_reprices_as_one(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    operator: dict[str, str],
    settings: CostIntelSettings,
    tenant: str,
) -> None:
    """Read two records at a time (ties on occurred_at broken by id), the result is the one the
    default chunk gives, and the rollups equal the repriced records."""
    model = "chunk-model-" + secrets.token_hex(3)
    old_version, new_version = "rp-" + secrets.token_hex(4), "rp-" + secrets.token_hex(4)
    prices = [{"pattern": model, "input": "100", "output": "3"}]
    prices += [{"pattern": "gone-" + model, "input": "1", "output": "1"}]
    book = {"version": old_version, "prices": prices}
    await client.put("/api/v1/cost/prices", json=book, headers=operator)
    start = datetime.now(UTC) - timedelta(hours=3)
    moments = [start + timedelta(minutes=7 * (i // 3)) for i in range(11)]  # three per moment
    records = [
        {
            "model": model,
            "input_tokens": 1_000 * (i + 1),
            "output_tokens": i,
            "user_id": f"u{i % 2}",
        }
        | {"occurred_at": moment.isoformat()}
        for i, moment in enumerate(moments)
    ]
    records += [{"model": model, "cost_cents": "7.25", "occurred_at": moments[4].isoformat()}] * 2
    records += [
        {"model": "gone-" + model, "input_tokens": 10, "occurred_at": moments[5].isoformat()}
    ]
    response = await client.post(
        "/api/v1/cost/records/batch", json={"records": records}, headers=admin
    )
    assert response.status_code == 201, response.text
    book = {"version": new_version, "prices": [{"pattern": model, "input": "150", "output": "4"}]}
    await client.put("/api/v1/cost/prices", json=book, headers=operator)
    body = RepriceRequest.model_validate(
        {
            "from": (start - timedelta(minutes=1)).isoformat(),
            "to": datetime.now(UTC).isoformat(),
            "price_version": new_version,
        }
    )
    actor = Principal(tenant_id=tenant, principal_id="user_test", principal_type="user")
    state = service_state(client._transport.app)  # type: ignore[attr-defined]

    async def run(chunk_size: int, keep: bool) -> dict[str, object]:
        async with state.sessionmaker() as session:
            result = await reprice(session, tenant, body, actor, chunk_size=chunk_size)
            await (session.commit() if keep else session.rollback())
        return result.model_dump(mode="json", exclude={"audit_entry_id"})

    by_default = await run(CHUNK_SIZE, keep=False)
    in_pairs = await run(2, keep=True)
    assert in_pairs == by_default
    assert (in_pairs["repriced_count"], in_pairs["client_priced_count"]) == (11, 2)
    assert (in_pairs["skipped_count"], in_pairs["unchanged_count"]) == (1, 0)
    tokens_in, tokens_out = sum(1_000 * (i + 1) for i in range(11)), sum(range(11))
    assert Decimal(in_pairs["previous_total_cents"]) == (
        tokens_in * 100 + tokens_out * 3
    ) / Decimal(10**6)
    assert Decimal(in_pairs["new_total_cents"]) == (tokens_in * 150 + tokens_out * 4) / Decimal(
        10**6
    )
    assert await assert_rollups_match_records(settings.database_url, tenant) == 14
    again = await run(3, keep=False)
    assert (again["repriced_count"], again["unchanged_count"]) == (0, 11)
