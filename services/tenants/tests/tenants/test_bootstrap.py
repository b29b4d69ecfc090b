"""`bootstrap_demo` (what `aos up` calls): create or reuse the demo tenant, key and token."""

from __future__ import annotations

import secrets

import httpx

from aos_common.testing.tenants import TEST_JWT_SECRET
from aos_tenants.tenants.bootstrap import bootstrap_demo


async def test_creates_demo_tenant_key_and_working_token(
    client: httpx.AsyncClient, migrated_url: str
) -> None:
    slug = f"demo-{secrets.token_hex(3)}"
    creds = await bootstrap_demo(migrated_url, jwt_secret=TEST_JWT_SECRET, slug=slug)
    assert creds["tenant_id"].startswith("tnt_") and creds["tenant_slug"] == slug
    with_key = await client.get("/api/v1/tenant", headers={"X-AOS-Key": creds["admin_key"]})
    assert with_key.status_code == 200 and with_key.json()["slug"] == slug
    with_token = await client.get(
        "/api/v1/tenant", headers={"Authorization": f"Bearer {creds['console_token']}"}
    )
    assert with_token.status_code == 200 and with_token.json()["id"] == creds["tenant_id"]


async def test_rerun_with_previous_credentials_keeps_the_key(migrated_url: str) -> None:
    slug = f"demo-{secrets.token_hex(3)}"
    first = await bootstrap_demo(migrated_url, jwt_secret=TEST_JWT_SECRET, slug=slug)
    second = await bootstrap_demo(
        migrated_url, jwt_secret=TEST_JWT_SECRET, slug=slug, existing=first
    )
    assert second["tenant_id"] == first["tenant_id"]
    assert second["admin_key"] == first["admin_key"]


async def test_rerun_without_credentials_rotates_the_bootstrap_key(
    client: httpx.AsyncClient, migrated_url: str
) -> None:
    slug = f"demo-{secrets.token_hex(3)}"
    first = await bootstrap_demo(migrated_url, jwt_secret=TEST_JWT_SECRET, slug=slug)
    rotated = [
        await bootstrap_demo(migrated_url, jwt_secret=TEST_JWT_SECRET, slug=slug)
        for _ in range(6)  # more than max_api_keys: earlier bootstrap keys are revoked
    ]
    latest = rotated[-1]
    assert latest["tenant_id"] == first["tenant_id"]
    assert latest["admin_key"] != rotated[-2]["admin_key"]
    headers = {"X-AOS-Key": latest["admin_key"]}
    assert (await client.get("/api/v1/tenant", headers=headers)).status_code == 200
    old = await client.get("/api/v1/tenant", headers={"X-AOS-Key": rotated[-2]["admin_key"]})
    assert old.status_code == 401
