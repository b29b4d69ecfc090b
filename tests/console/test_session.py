"""Console sign-in at the gateway: a credential becomes an HttpOnly session cookie, once."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from aos_cli.testing import RunningPlatform

CONSOLE_HEADER = {"X-Requested-With": "aos-console"}


@contextmanager
def _signed_in(platform: RunningPlatform, key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.gateway_url, timeout=30.0, trust_env=False) as client:
        response = client.post("/console/session", json={"credential": key})
        assert response.status_code == 201, response.text
        yield client


def test_sign_in_sets_an_httponly_strict_cookie_and_returns_no_credential(
    platform: RunningPlatform, gateway: httpx.Client, new_tenant: Callable[[], Any]
) -> None:
    tenant = new_tenant()
    response = gateway.post("/console/session", json={"credential": tenant.key})
    assert response.status_code == 201
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain HTTP on localhost; Secure is set behind TLS
    body = response.json()["data"]
    assert body["tenant_id"] == tenant.id
    assert tenant.key not in response.text


def test_the_cookie_reaches_the_api_with_the_keys_own_permissions(
    platform: RunningPlatform, gateway: httpx.Client, new_tenant: Callable[[], Any]
) -> None:
    tenant = new_tenant()
    created = gateway.post(
        "/api/v1/tenant/api-keys",
        json={"name": "read only", "permissions": ["read:*"]},
        headers=tenant.headers,
    ).json()
    with _signed_in(platform, created["key"]) as client:
        assert client.get("/api/v1/cost/summary").status_code == 200
        assert client.get("/console/session").json()["data"]["permissions"] == ["read:*"]
        refused = client.post("/api/v1/tenant/api-keys", json={"name": "x"}, headers=CONSOLE_HEADER)
        assert refused.status_code == 403


def test_sign_out_revokes_the_session_even_for_a_copied_cookie(
    platform: RunningPlatform, gateway: httpx.Client, new_tenant: Callable[[], Any]
) -> None:
    tenant = new_tenant()
    with _signed_in(platform, tenant.key) as client:
        copied = dict(client.cookies)
        assert client.get("/api/v1/cost/summary").status_code == 200
        assert client.delete("/console/session", headers=CONSOLE_HEADER).status_code == 204
    with httpx.Client(base_url=platform.gateway_url, cookies=copied, trust_env=False) as thief:
        refused = thief.get("/api/v1/cost/summary")
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert thief.get("/console/session").status_code == 401


def test_a_wrong_credential_is_a_clear_401(gateway: httpx.Client) -> None:
    response = gateway.post("/console/session", json={"credential": "aos_not_a_real_key"})
    assert response.status_code == 401
    assert "not valid" in response.json()["detail"]
    assert "set-cookie" not in response.headers


def test_a_write_without_the_console_header_is_refused(
    platform: RunningPlatform, gateway: httpx.Client, new_tenant: Callable[[], Any]
) -> None:
    tenant = new_tenant()
    with _signed_in(platform, tenant.key) as client:
        response = client.post("/api/v1/tenant/api-keys", json={"name": "forged"})
        assert response.status_code == 403
        assert "console" in response.json()["detail"]


def test_a_one_time_link_signs_in_once(
    gateway: httpx.Client, new_tenant: Callable[[], Any]
) -> None:
    tenant = new_tenant()
    path = gateway.post("/console/links", headers=tenant.headers).json()["data"]["path"]
    first = gateway.get(path, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/#/"
    assert "aos_console_session=" in first.headers["set-cookie"]
    again = gateway.get(path, follow_redirects=False)
    assert again.status_code == 303 and "expired" in again.headers["location"]
    assert "set-cookie" not in again.headers


def test_index_is_not_cached_and_assets_are_immutable_under_a_strict_csp(
    gateway: httpx.Client, console_dist: object
) -> None:
    index = gateway.get("/")
    assert index.headers["cache-control"] == "no-cache"
    csp = index.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    asset = next(part.split('"')[1] for part in index.text.split("src=")[1:] if "assets" in part)
    response = gateway.get(asset)
    assert response.status_code == 200
    assert "immutable" in response.headers["cache-control"]
    assert gateway.get("/console/assets/..%2Fpackage.json").status_code == 404


def test_revoking_the_signed_in_key_ends_its_console_session(
    platform: RunningPlatform, gateway: httpx.Client, new_tenant: Callable[[], Any]
) -> None:
    tenant = new_tenant()
    created = gateway.post(
        "/api/v1/tenant/api-keys", json={"name": "laptop"}, headers=tenant.headers
    ).json()
    with _signed_in(platform, created["key"]) as client:
        assert client.get("/api/v1/cost/summary").status_code == 200
        revoked = gateway.delete(f"/api/v1/tenant/api-keys/{created['id']}", headers=tenant.headers)
        assert revoked.status_code == 200
        deadline = time.monotonic() + 10  # the gateway caches a grant for at most 2 s
        status = 200
        while status == 200 and time.monotonic() < deadline:
            time.sleep(0.25)
            status = client.get("/api/v1/cost/summary").status_code
        assert status == 401


def test_aos_up_prints_a_one_time_sign_in_link_for_the_demo_tenant(
    platform: RunningPlatform, gateway: httpx.Client
) -> None:
    match = re.search(r"Console sign-in link for the demo tenant.*?: (\S+)", platform.output())
    assert match, platform.output()
    link = match.group(1)
    assert link.startswith(platform.gateway_url + "/console/signin?code=")
    followed = gateway.get(link, follow_redirects=False)
    assert followed.status_code == 303
    cookie = followed.cookies["aos_console_session"]
    with httpx.Client(base_url=platform.gateway_url, trust_env=False) as browser:
        who = browser.get("/console/session", cookies={"aos_console_session": cookie})
        assert who.json()["data"]["tenant_id"] == platform.credentials["tenant_id"]
