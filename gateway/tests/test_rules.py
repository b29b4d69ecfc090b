from __future__ import annotations

import pytest

from aos_gateway.rules import RequestInfo, RuleError, default_priority, parse_rule


def request(method: str = "GET", path: str = "/", **extra: object) -> RequestInfo:
    return RequestInfo(method=method, path=path, **extra)  # type: ignore[arg-type]


def test_path_prefix_is_a_plain_string_prefix_like_traefik() -> None:
    matcher = parse_rule("PathPrefix(`/api/v1/tenant`)")
    assert matcher(request(path="/api/v1/tenant"))
    assert matcher(request(path="/api/v1/tenants/abc"))
    assert not matcher(request(path="/api/v1/traces"))


def test_path_matches_exactly() -> None:
    matcher = parse_rule("Path(`/v1/traces`)")
    assert matcher(request(path="/v1/traces"))
    assert not matcher(request(path="/v1/traces/"))


def test_method_host_and_conjunction() -> None:
    matcher = parse_rule("Host(`api.example.com`) && Method(`POST`)")
    assert matcher(request("POST", host="API.example.com:8080"))
    assert not matcher(request("GET", host="api.example.com"))
    assert not matcher(request("POST", host="other.example.com"))


def test_and_binds_tighter_than_or() -> None:
    matcher = parse_rule("Path(`/a`) || Path(`/b`) && Method(`POST`)")
    assert matcher(request("GET", "/a"))
    assert not matcher(request("GET", "/b"))
    assert matcher(request("POST", "/b"))


def test_parentheses_override_precedence() -> None:
    matcher = parse_rule("(Path(`/a`) || Path(`/b`)) && Method(`POST`)")
    assert not matcher(request("GET", "/a"))
    assert matcher(request("POST", "/a"))


def test_negation_and_double_quoted_values() -> None:
    matcher = parse_rule('PathPrefix("/api") && !Method("DELETE")')
    assert matcher(request("GET", "/api/x"))
    assert not matcher(request("DELETE", "/api/x"))


def test_header_query_regexp_and_client_ip_matchers() -> None:
    assert parse_rule("Header(`X-Env`, `prod`)")(request(headers={"x-env": "prod"}))
    assert parse_rule("PathRegexp(`^/api/v[0-9]+/`)")(request(path="/api/v1/x"))
    assert parse_rule("Query(`mobile`, `true`)")(request(query={"mobile": ["true"]}))
    assert parse_rule("ClientIP(`10.0.0.0/8`)")(request(client_ip="10.1.2.3"))
    assert not parse_rule("ClientIP(`10.0.0.0/8`)")(request(client_ip="192.168.1.1"))


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ("PathPrefx(`/api`)", "unknown matcher 'PathPrefx'"),
        ("PathPrefix(`/api`", "expected ')'"),
        ("PathPrefix(`/api`) &&", "expected a matcher"),
        ("PathPrefix(`/api`) Path(`/x`)", "unexpected 'Path'"),
        ("Host(`a`, `b`)", "Host takes 1 argument(s), got 2"),
        ("PathPrefix(`api`)", "must start with '/'"),
        ("PathPrefix('/api')", "unexpected character"),
        ("", "empty rule"),
        ("PathRegexp(`(`)", "PathRegexp"),
    ],
)
def test_bad_rules_are_refused_with_a_message_naming_the_problem(rule: str, fragment: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(rule)
    assert fragment in str(caught.value)
    assert repr(rule) in str(caught.value)


def test_default_priority_is_the_rule_length() -> None:
    assert default_priority("Host(`foobar.traefik.com`)") == 26
