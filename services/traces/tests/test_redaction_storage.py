"""Redaction happens before storage: the database itself never holds the secrets."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from aos_traces.domain.redaction import SENSITIVE_KEYS

from .support import Tenant, make_trace

SECRETS = {
    "email": "alice.doe@example.com",
    "bearer": "Bearer sk-live-abcdefghijklmnop",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_" + "a1B2" * 9,
    "slack": "xoxb-123456-abcdef",
    "card": "4111 1111 1111 1111",
    "ssn": "078-05-1120",
}


def secret_payload() -> dict:
    keyed = {key: f"value-of-{key}-s3cr3t" for key in sorted(SENSITIVE_KEYS)}
    return {**keyed, "notes": " ".join(SECRETS.values()), "nested": [{"Password": "p4ss-nested"}]}


async def dump(database_url: str, tenant_id: str) -> str:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT t.plan::text || t.metadata::text || s.params::text || s.outcome_data::text "
            "AS blob FROM traces.traces t JOIN traces.trace_steps s USING (tenant_id, trace_id) "
            "WHERE t.tenant_id = $1",
            tenant_id,
        )
        records = await connection.fetch(
            "SELECT coalesce(output::text, $$$$) AS blob FROM traces.idempotency_records WHERE tenant_id = $1",
            tenant_id,
        )
    finally:
        await connection.close()
    return "\n".join(row["blob"] for row in [*rows, *records])


@pytest.mark.parametrize("route", ["/api/v1/traces", "/api/v1/traces/batch"])
async def test_no_listed_key_or_pattern_reaches_the_database(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str, route: str
) -> None:
    trace = make_trace(steps=1, plan=[secret_payload()], metadata=secret_payload())
    trace["steps"][0]["params"] = secret_payload()
    trace["steps"][0]["outcome_data"] = secret_payload()
    body = [trace] if route.endswith("batch") else {"trace": trace}
    response = await client.post(route, json=body, headers=tenant.admin)
    assert response.status_code == 201, response.text
    stored = await dump(database_url, tenant.id)
    assert stored
    for key in SENSITIVE_KEYS:
        assert f"value-of-{key}-s3cr3t" not in stored, key
    for name, secret in SECRETS.items():
        assert secret not in stored, name
    assert "sk-live-abcdefghijklmnop" not in stored
    assert "p4ss-nested" not in stored
    for marker in (
        "<REDACTED_EMAIL>",
        "Bearer <REDACTED>",
        "<REDACTED_AWS_KEY>",
        "<REDACTED_GITHUB_TOKEN>",
        "<REDACTED_SLACK_TOKEN>",
        "<REDACTED_CARD>",
        "<REDACTED_SSN>",
    ):
        assert marker in stored, marker
