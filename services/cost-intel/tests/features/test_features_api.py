import httpx

URL = "/api/v1/cost/features"


async def test_creating_a_feature_tag_answers_201_with_the_tag(
    client: httpx.AsyncClient, admin: dict[str, str], tenant: str
) -> None:
    body = {"tag": "support.chat", "display_name": "Support chat", "budget_cents": "1500.5"}
    response = await client.post(URL, json=body, headers=admin)
    assert response.status_code == 201, response.text
    tag = response.json()
    assert tag["id"].startswith("ft_") and len(tag["id"]) == 19
    assert (tag["tenant_id"], tag["tag"], tag["budget_cents"], tag["is_active"]) == (
        tenant,
        "support.chat",
        "1500.5",
        True,
    )


async def test_a_duplicate_tag_is_409(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    body = {"tag": "search.rank", "display_name": "Ranking"}
    assert (await client.post(URL, json=body, headers=admin)).status_code == 201
    response = await client.post(URL, json=body, headers=admin)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "Feature tag 'search.rank' already exists for this tenant"


async def test_a_tag_without_namespace_is_400(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(URL, json={"tag": "chat", "display_name": "x"}, headers=admin)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Feature tag must be in namespace.action format (e.g., 'customer_support.chat')"
    )


async def test_list_hides_inactive_tags_unless_asked(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for tag in ("b.two", "a.one"):
        await client.post(URL, json={"tag": tag, "display_name": tag}, headers=admin)
    await client.put(f"{URL}/b.two", json={"is_active": False}, headers=admin)
    active = (await client.get(URL, headers=admin)).json()
    every = (await client.get(URL, params={"include_inactive": "true"}, headers=admin)).json()
    assert [t["tag"] for t in active] == ["a.one"]
    assert [t["tag"] for t in every] == ["a.one", "b.two"]


async def test_update_is_partial(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await client.post(
        URL, json={"tag": "x.y", "display_name": "Old", "description": "d"}, headers=admin
    )
    response = await client.put(f"{URL}/x.y", json={"display_name": "New"}, headers=admin)
    assert response.status_code == 200
    assert (response.json()["display_name"], response.json()["description"]) == ("New", "d")


async def test_updating_an_unknown_tag_is_404(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.put(f"{URL}/no.such", json={"display_name": "x"}, headers=admin)
    assert response.status_code == 404
    assert response.json()["detail"] == "Feature tag 'no.such' not found"


async def test_tags_are_tenant_scoped(
    client: httpx.AsyncClient, as_role, admin: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    await client.post(URL, json={"tag": "mine.only", "display_name": "m"}, headers=admin)
    other = as_role("admin", tenant_id="tnt_someoneelse0001")
    assert (await client.get(URL, headers=other)).json() == []


async def test_another_tenants_id_in_the_query_is_403(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.get(URL, params={"tenant_id": "tnt_other"}, headers=admin)
    assert response.status_code == 403
    assert response.json()["detail"] == "Cannot access other tenant's data"


async def test_operators_may_read_any_tenant(
    client: httpx.AsyncClient, admin: dict[str, str], operator: dict[str, str], tenant: str
) -> None:
    await client.post(URL, json={"tag": "op.seen", "display_name": "s"}, headers=admin)
    response = await client.get(URL, params={"tenant_id": tenant}, headers=operator)
    assert [t["tag"] for t in response.json()] == ["op.seen"]


async def test_no_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(URL)
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication required"


async def test_a_viewer_cannot_create_tags(client: httpx.AsyncClient, as_role) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        URL, json={"tag": "v.x", "display_name": "v"}, headers=as_role("viewer")
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Requires permission cost:write"


async def test_idempotency_key_replays_the_creation(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    headers = {**admin, "Idempotency-Key": "feature-create-1"}
    body = {"tag": "idem.tag", "display_name": "i"}
    first = await client.post(URL, json=body, headers=headers)
    second = await client.post(URL, json=body, headers=headers)
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    conflict = await client.post(URL, json={**body, "display_name": "other"}, headers=headers)
    assert conflict.status_code == 409
    assert conflict.json()["detail"] == "Idempotency key reused with a different request"
