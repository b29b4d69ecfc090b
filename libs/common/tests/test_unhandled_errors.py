"""Unhandled errors are logged with their request id and never with data from the request."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from aos_common.telemetry import JsonLogFormatter


def service_log(caplog: pytest.LogCaptureFixture) -> str:
    """What the service logged (the test's own httpx client logs the URL it called)."""
    return "\n".join(
        caplog.handler.format(record)
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))
    )


async def test_an_unhandled_error_logs_the_request_id_it_answered_with(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.setFormatter(JsonLogFormatter())
    with caplog.at_level(logging.ERROR, logger="aos.errors"):
        response = await client.get("/boom", headers={"X-Request-ID": "req-boom-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-boom-1"
    assert response.json()["request_id"] == "req-boom-1"
    entries = [json.loads(line) for line in caplog.text.splitlines() if line.startswith("{")]
    assert [entry["request_id"] for entry in entries] == ["req-boom-1"]
    assert "RuntimeError" in entries[0]["exception"]


async def test_a_database_error_logs_neither_sql_parameters_nor_their_values(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.setFormatter(JsonLogFormatter())
    with caplog.at_level(logging.DEBUG):
        response = await client.get(
            "/lookup", params={"secret": "customer-s3cret"}, headers={"X-Request-ID": "req-db-1"}
        )
    assert response.status_code == 500
    assert "customer-s3cret" not in service_log(caplog)
    assert "customer-s3cret" not in response.text
    logged = [json.loads(line) for line in caplog.text.splitlines() if line.startswith("{")]
    errors = [entry for entry in logged if entry["logger"] == "aos.errors"]
    assert errors and errors[0]["request_id"] == "req-db-1"
    assert "42P01" in errors[0]["message"]


async def test_an_integer_the_column_cannot_hold_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/counters", params={"value": 3_000_000_000})
    assert response.status_code == 400
    assert "out of range" in response.json()["detail"]


async def test_a_refused_value_is_not_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = await client.post("/counters", params={"value": 3_000_000_123})
    assert response.status_code == 400
    assert "3000000123" not in service_log(caplog)
