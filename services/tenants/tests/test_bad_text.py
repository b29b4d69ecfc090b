"""NUL characters anywhere a client can put text are a 400, never a 500."""

from __future__ import annotations

import httpx

from aos_common.errors import DATABASE_REFUSED
from aos_common.testing.tenants import NewTenant


async def test_nul_in_body_path_and_query_is_400(
    client: httpx.AsyncClient, tenant: NewTenant
) -> None:
    in_body = [
        client.post(
            "/api/v1/runs", json={"worker_id": "w", "task": "a\u0000b"}, headers=tenant.headers
        ),
        client.put(
            "/api/v1/workers/support-triage/config",
            json={"config": {"k": "\u0000"}},
            headers=tenant.headers,
        ),
        client.post(
            "/api/v1/tenant/api-keys", json={"name": "bad\u0000name"}, headers=tenant.headers
        ),
    ]
    for attempt in in_body:
        response = await attempt
        assert response.status_code == 400, response.text
        assert response.json()["detail"] == DATABASE_REFUSED
    in_url = [  # refused on every service port before routing (aos_common.input_limits)
        client.delete("/api/v1/tenant/api-keys/key_x%00y?reason=a%00b", headers=tenant.headers),
        client.get("/api/v1/runs/run%00x", headers=tenant.headers),
    ]
    for attempt in in_url:
        response = await attempt
        assert response.status_code == 400, response.text
        assert response.json()["detail"] == "The URL must not contain NUL (%00) characters"
    still_fine = await client.get("/api/v1/tenant", headers=tenant.headers)
    assert still_fine.status_code == 200 and still_fine.json()["runs_today"] == 0
