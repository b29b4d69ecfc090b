"""A context forward-auth signed before its key was revoked stops working on every service port
within 5 s (API.md), although it is correctly signed and lives 60 s (aos_common.revocation)."""

from __future__ import annotations

import time

import httpx

from aos_cli.testing import RunningPlatform
from aos_common.revocation import REVOCATION_BOUND_SECONDS

# One authenticated read per service, answered on the service's own port.
READS = {
    "tenants": "/api/v1/tenant",
    "traces": "/api/v1/traces",
    "cost-intel": "/api/v1/cost/summary",
    "audit-ledger": "/api/v1/audit/entries",
    "guard-logs": "/api/v1/guard/logs",
}


def minted_context(platform: RunningPlatform, key: str) -> dict[str, str]:
    """What forward-auth answers the gateway for `key`: the signed context headers."""
    url = platform.service_urls["tenants"] + "/internal/v1/auth/forward"
    response = httpx.get(url, headers={"X-AOS-Key": key}, timeout=10)
    assert response.status_code == 200, response.text
    return {
        "X-AOS-Context": response.headers["x-aos-context"],
        "X-AOS-Context-Signature": response.headers["x-aos-context-signature"],
    }


def statuses(platform: RunningPlatform, headers: dict[str, str]) -> dict[str, int]:
    return {
        name: httpx.get(platform.service_urls[name] + path, headers=headers, timeout=10).status_code
        for name, path in READS.items()
    }


def test_a_context_of_a_revoked_key_is_refused_on_every_port_within_5_s(
    platform: RunningPlatform,
) -> None:
    admin = {"X-AOS-Key": platform.credentials["admin_key"]}
    keys_url = platform.service_urls["tenants"] + "/api/v1/tenant/api-keys"
    created = httpx.post(keys_url, json={"name": "soon revoked"}, headers=admin, timeout=10)
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    context = minted_context(platform, key)
    assert set(statuses(platform, context).values()) == {200}

    revoked = httpx.delete(f"{keys_url}/{created.json()['id']}", headers=admin, timeout=10)
    assert revoked.status_code == 200, revoked.text
    time.sleep(REVOCATION_BOUND_SECONDS)

    assert statuses(platform, context) == dict.fromkeys(READS, 401)
    refused = httpx.get(platform.service_urls["traces"] + READS["traces"], headers=context)
    # "Invalid API key" from the revocation list; "Gateway context expired" if a service could not
    # refresh that list for 5 s and so refuses every key context older than 5 s.
    assert refused.json()["detail"] in {"Invalid API key", "Gateway context expired"}


def test_a_context_of_a_live_key_keeps_working_after_5_s(platform: RunningPlatform) -> None:
    admin = {"X-AOS-Key": platform.credentials["admin_key"]}
    keys_url = platform.service_urls["tenants"] + "/api/v1/tenant/api-keys"
    created = httpx.post(keys_url, json={"name": "kept"}, headers=admin, timeout=10)
    context = minted_context(platform, created.json()["key"])
    time.sleep(REVOCATION_BOUND_SECONDS)
    assert set(statuses(platform, context).values()) == {200}
