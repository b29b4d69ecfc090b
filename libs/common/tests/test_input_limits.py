"""The limits every service port applies before a route parses anything (aos_common.input_limits)."""

from __future__ import annotations

import json

import httpx
import pytest

from aos_common.input_limits import (
    INT64_MAX,
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    InputRefused,
    check_json_body,
)


def nested(depth: int) -> str:
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


async def post_raw(client: httpx.AsyncClient, body: bytes | str) -> httpx.Response:
    return await client.post("/echo", content=body, headers={"Content-Type": "application/json"})


def assert_refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_a_21_digit_integer_in_free_form_json_is_refused(client: httpx.AsyncClient) -> None:
    response = await post_raw(client, '{"config": {"n": 123456789012345678901}}')
    assert_refused(response, 422, "out of range")


async def test_integers_at_the_int64_bounds_are_accepted(client: httpx.AsyncClient) -> None:
    document = {"top": INT64_MAX, "bottom": -INT64_MAX - 1}
    response = await post_raw(client, json.dumps(document))
    assert response.status_code == 200
    assert response.json() == document


async def test_one_past_int64_is_refused(client: httpx.AsyncClient) -> None:
    response = await post_raw(client, json.dumps({"n": INT64_MAX + 1}))
    assert_refused(response, 422, "out of range")


async def test_a_float_of_int64_magnitude_is_refused(client: httpx.AsyncClient) -> None:
    """jsonb would write 2.5e154 back as a 155-digit integer that could never be read."""
    response = await post_raw(client, '{"brand": {"x": 2.5748509088332184e+154}}')
    assert_refused(response, 422, "out of range")


async def test_ordinary_floats_with_exponents_are_accepted(client: httpx.AsyncClient) -> None:
    response = await post_raw(client, '{"a": 1.5e-300, "b": -2.5e18, "c": 3E2}')
    assert response.status_code == 200
    assert response.json() == {"a": 1.5e-300, "b": -2.5e18, "c": 300.0}


async def test_an_infinite_number_is_refused(client: httpx.AsyncClient) -> None:
    response = await post_raw(client, '{"n": 1e400}')
    assert_refused(response, 422, "out of range")


async def test_nan_is_refused_as_not_json(client: httpx.AsyncClient) -> None:
    response = await post_raw(client, '{"n": NaN}')
    assert_refused(response, 422, "not valid JSON")


async def test_a_lone_surrogate_is_refused(client: httpx.AsyncClient) -> None:
    response = await post_raw(client, '{"text": "a\\ud800b"}')
    assert_refused(response, 422, "lone surrogate")


async def test_a_nul_inside_a_json_string_is_left_to_the_service(
    client: httpx.AsyncClient,
) -> None:
    """Services decide (PostgreSQL refuses it; the traces ingest replaces it on purpose)."""
    response = await post_raw(client, '{"text": "a\\u0000b"}')
    assert response.status_code == 200
    assert response.json() == {"text": "a\x00b"}


async def test_a_refused_body_names_the_body_as_the_field(client: httpx.AsyncClient) -> None:
    response = await post_raw(client, '{"n": 1e400}')
    assert response.json()["errors"] == [{"field": "body", "message": response.json()["detail"]}]


async def test_nesting_at_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    response = await post_raw(client, nested(MAX_JSON_DEPTH))
    assert response.status_code == 200


async def test_nesting_past_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    response = await post_raw(client, nested(MAX_JSON_DEPTH + 1))
    assert_refused(response, 422, "nested too deeply")


async def test_nesting_past_the_parsers_own_limit_is_refused(client: httpx.AsyncClient) -> None:
    response = await post_raw(client, nested(5000))
    assert_refused(response, 422, "nested too deeply")


async def test_a_compressed_body_is_left_to_the_route(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/echo",
        content=b"\x1f\x8b not json the middleware could read",
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert 400 <= response.status_code < 500
    assert "lone surrogate" not in response.text and "not valid JSON" not in response.text


async def test_malformed_json_is_left_to_the_route_422(client: httpx.AsyncClient) -> None:
    response = await post_raw(client, '{"a": ')
    assert response.status_code == 422


async def test_a_declared_length_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    body = b'{"a": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = await post_raw(client, body)
    assert_refused(response, 413, f"limit of {MAX_BODY_BYTES} bytes")


async def test_a_streamed_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks():  # no Content-Length: the limit is counted while reading
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    response = await client.post(
        "/echo", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_refused(response, 413, "exceeds the limit")


async def test_a_nul_in_the_query_string_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz?agent_id=%00")
    assert_refused(response, 400, "NUL")


async def test_a_nul_in_the_path_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/things/a%00b")
    assert_refused(response, 400, "NUL")


def test_a_body_without_hazards_passes_without_a_full_walk() -> None:
    check_json_body(b'{"a": [1, 2, {"b": "c"}], "n": 1234567890123456789}')


def test_a_long_digit_run_inside_a_string_is_not_a_number() -> None:
    check_json_body(b'{"id": "123456789012345678901234567890"}')


def test_refusal_carries_status_and_sentence() -> None:
    with pytest.raises(InputRefused) as refused:
        check_json_body(b"[" * 100 + b"]" * 100)
    assert refused.value.status == 422
    assert str(MAX_JSON_DEPTH) in refused.value.detail
