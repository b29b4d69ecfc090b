"""Paths through the gateway (issue 13): forwarded exactly as the client sent them, malformed ones
refused with a problem document, and no internal route named in an answer."""

from __future__ import annotations

import httpx
from gateway_testing.stacks import Stack

GOOD = {"X-AOS-Key": "aos_good"}


def test_an_encoded_question_mark_stays_in_the_path(platform: Stack) -> None:
    response = httpx.get(platform.url + "/api/v1/traces/zzz%3Flimit%3D5", headers=GOOD)
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["raw_path"] == "/api/v1/traces/zzz%3Flimit%3D5"
    assert seen["query"] == ""


def test_an_encoded_space_is_forwarded_encoded(platform: Stack) -> None:
    response = httpx.get(platform.url + "/api/v1/traces/a%20b?x=%20", headers=GOOD)
    assert response.status_code == 200, response.text
    assert (response.json()["raw_path"], response.json()["query"]) == (
        "/api/v1/traces/a%20b",
        "x=%20",
    )


def test_a_control_character_in_the_path_is_a_400_problem(platform: Stack) -> None:
    response = httpx.get(
        platform.url + "/api/v1/traces/a%00b", headers={**GOOD, "X-Request-ID": "req-nul0000001"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["detail"].startswith("The request path contains a control character")
    assert (body["instance"], body["request_id"]) == ("/api/v1/traces/a%00b", "req-nul0000001")


def test_forward_auth_refusals_name_the_clients_path_not_an_internal_route(
    platform: Stack,
) -> None:
    response = httpx.get(platform.url + "/api/v1/traces/run_1?x=1")
    assert response.status_code == 401
    assert response.json()["instance"] == "/api/v1/traces/run_1"
    assert "/internal" not in response.text
    assert int(response.headers["content-length"]) == len(response.content)


def test_strip_prefix_keeps_the_rest_of_the_path_encoded(lab: Stack) -> None:
    seen = httpx.get(lab.url + "/strip/a%3Fb%2Fc").json()
    assert (seen["raw_path"], seen["query"]) == ("/a%3Fb%2Fc", "")
