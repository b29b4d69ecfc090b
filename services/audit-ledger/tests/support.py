"""Helpers shared by the audit-ledger tests."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from aos_common.testing import principal_headers


def new_tenant() -> str:
    return "tnt_" + secrets.token_hex(8)


def admin(tenant_id: str | None) -> dict[str, str]:
    return principal_headers(tenant_id, roles=["admin"])


def internal(tenant_id: str | None = None) -> dict[str, str]:
    return principal_headers(
        tenant_id, roles=["service"], principal_id="service:tests", principal_type="service"
    )


def entry_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_type": "PolicyRuleCreated",
        "entity_type": "POLICY_RULE",
        "entity_id": "rule_" + secrets.token_hex(4),
        "actor_type": "HUMAN",
        "actor_id": "user_1",
        "action_reason": "activated from recovery",
        "before_state": None,
        "after_state": {"policy_id": "pol_1", "confidence": 0.93},
    }
    body.update(overrides)
    return body


async def append(client: httpx.AsyncClient, tenant_id: str, **overrides: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/audit/entries", json=entry_body(**overrides), headers=admin(tenant_id)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())
