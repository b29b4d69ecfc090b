import secrets

import httpx
import pytest

URL = "/api/v1/cost/prices"


def book(version: str, input_rate: str = "100") -> dict[str, object]:
    return {
        "version": version,
        "prices": [
            {
                "model": "test-model",
                "provider": "test",
                "pattern": "test-model(?:-.*)?",
                "input": input_rate,
                "output": "200",
                "cache_read": "10",
            },
            {
                "model": "gpt-4o",
                "provider": "openai",
                "pattern": "gpt-4o",
                "input": "250",
                "output": "1000",
            },
        ],
    }


@pytest.mark.usefixtures("restore_prices")
async def test_the_shipped_book_is_current_on_first_start(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.get(URL, headers=admin)
    assert response.status_code == 200
    listing = response.json()
    assert listing["unit"] == "USD cents per million tokens"
    assert any(v["version"] == "2025.11.0" for v in listing["versions"])
    entry = (
        next(p for p in listing["prices"] if p["model"] == "gpt-4o-mini")
        if listing["version"] == "2025.11.0"
        else None
    )
    if entry is not None:
        assert {k: entry[k] for k in ("input", "cache_read", "output")} == {
            "input": "15",
            "cache_read": "7.5",
            "output": "60",
        }


@pytest.mark.usefixtures("restore_prices")
async def test_only_operators_load_price_books(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.put(URL, json=book("tenant-try"), headers=admin)
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires role operator"


@pytest.mark.usefixtures("restore_prices")
async def test_a_loaded_version_becomes_current_and_prices_new_records(
    client: httpx.AsyncClient, admin: dict[str, str], operator: dict[str, str]
) -> None:
    version = "test-" + secrets.token_hex(4)
    loaded = await client.put(URL, json=book(version), headers=operator)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json() == {
        "version": version,
        "loaded": True,
        "entries": 2,
        "current_version": version,
    }
    record = await client.post(
        "/api/v1/cost/record",
        json={"model": "test-model-v2", "input_tokens": 1000, "cache_read_input_tokens": 1000},
        headers=admin,
    )
    assert record.json()["data"] == {
        **record.json()["data"],
        "cost_cents": "0.11",
        "price_version": version,
    }
    listing = (await client.get(URL, headers=admin)).json()
    assert listing["current_version"] == version
    assert listing["prices"][0]["cache_creation"] == "100"
    older = (await client.get(URL, params={"version": "2025.11.0"}, headers=admin)).json()
    assert older["version"] == "2025.11.0" and len(older["prices"]) > 40


@pytest.mark.usefixtures("restore_prices")
async def test_reloading_the_same_version_is_a_no_op_and_a_changed_one_is_409(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    version = "test-" + secrets.token_hex(4)
    await client.put(URL, json=book(version), headers=operator)
    again = await client.put(URL, json=book(version), headers=operator)
    assert again.json()["loaded"] is False
    changed = await client.put(URL, json=book(version, input_rate="101"), headers=operator)
    assert changed.status_code == 409
    assert (
        changed.json()["detail"]
        == f"Price version '{version}' already exists with different prices"
    )


@pytest.mark.usefixtures("restore_prices")
async def test_an_invalid_book_is_400_naming_the_field(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    bad = book("bad-" + secrets.token_hex(4))
    bad["prices"][1]["pattern"] = "gpt-(4o"  # type: ignore[index]
    response = await client.put(URL, json=bad, headers=operator)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(
        "Invalid price book: prices[1].pattern: invalid regular expression"
    )


@pytest.mark.usefixtures("restore_prices")
async def test_an_unknown_version_is_404(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.get(URL, params={"version": "never-loaded"}, headers=admin)
    assert response.status_code == 404
    assert response.json()["detail"] == "Price version 'never-loaded' not found"
