"""Cost records naming a reservation (spans with `aos.reservation_id`, through the traces outbox)
settle it; a reservation no longer held leaves the record stored as any other."""

from __future__ import annotations

import httpx

from aos_common.auth import service_principal, sign_context
from aos_common.settings import DEVELOPMENT_INTERNAL_SECRET

URL = "/api/v1/cost/reservations"


def internal() -> dict[str, str]:
    return sign_context(service_principal("traces"), DEVELOPMENT_INTERNAL_SECRET)


async def held(client: httpx.AsyncClient, headers: dict[str, str], cents: str) -> str:
    response = await client.post(URL, json={"estimated_cost_cents": cents}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_a_delivered_record_settles_its_reservation_once(
    client: httpx.AsyncClient, admin: dict[str, str], tenant: str
) -> None:
    rid = await held(client, admin, "50")
    record = {
        "tenant_id": tenant,
        "model": "gpt-4o",
        "cost_cents": "12",
        "request_id": "span-1",
        "reservation_id": rid,
    }
    first = await client.post("/internal/v1/cost/records", json=record, headers=internal())
    again = await client.post("/internal/v1/cost/records", json=record, headers=internal())
    assert (first.status_code, again.status_code) == (201, 200)
    reservation = (await client.get(f"{URL}/{rid}", headers=admin)).json()
    assert (reservation["status"], reservation["charged_cents"]) == ("settled", "12")
    batch = {"messages": [{**record, "id": "m1"}]}
    answered = await client.post("/internal/v1/cost/records/batch", json=batch, headers=internal())
    assert answered.json()["results"][0]["status"] == "duplicate"


async def test_a_batch_delivered_record_settles_its_reservation(
    client: httpx.AsyncClient, admin: dict[str, str], tenant: str
) -> None:
    rid = await held(client, admin, "50")
    messages = [
        {"id": "m1", "tenant_id": tenant, "model": "m", "cost_cents": "7", "reservation_id": rid},
        {"id": "m2", "tenant_id": tenant, "model": "m", "cost_cents": "3"},
    ]
    answered = await client.post(
        "/internal/v1/cost/records/batch", json={"messages": messages}, headers=internal()
    )
    assert answered.status_code == 200, answered.text
    assert [r["status"] for r in answered.json()["results"]] == ["stored", "stored"]
    reservation = (await client.get(f"{URL}/{rid}", headers=admin)).json()
    assert (reservation["status"], reservation["charged_cents"]) == ("settled", "7")


async def test_a_record_naming_a_released_reservation_is_stored_as_usual(
    client: httpx.AsyncClient, admin: dict[str, str], tenant: str
) -> None:
    rid = await held(client, admin, "50")
    await client.post(f"{URL}/{rid}/release", headers=admin)
    record = {"tenant_id": tenant, "model": "m", "cost_cents": "4", "reservation_id": rid}
    stored = await client.post("/internal/v1/cost/records", json=record, headers=internal())
    assert stored.status_code == 201
    reservation = (await client.get(f"{URL}/{rid}", headers=admin)).json()
    assert (reservation["status"], reservation["charged_cents"]) == ("released", None)


async def test_a_public_batch_refuses_reservation_ids_with_422(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"records": [{"model": "m", "cost_cents": "1", "reservation_id": "res_1"}]}
    response = await client.post("/api/v1/cost/records/batch", json=body, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "records.0.reservation_id"
