import pytest

from aos_traces.domain.redaction import MAX_DEPTH, REDACTED, SENSITIVE_KEYS, redact, redact_string


@pytest.mark.parametrize("key", sorted(SENSITIVE_KEYS))
def test_sensitive_key_value_is_redacted(key: str) -> None:
    assert redact({key: "value-1", "keep": "x"}) == {key: REDACTED, "keep": "x"}


def test_key_match_is_case_insensitive() -> None:
    assert redact({"PassWord": "p", "API_KEY": {"nested": 1}}) == {
        "PassWord": REDACTED,
        "API_KEY": REDACTED,
    }


def test_keys_that_only_contain_a_sensitive_word_are_kept() -> None:
    assert redact({"max_tokens": 100, "input_tokens": 5}) == {"max_tokens": 100, "input_tokens": 5}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail alice.smith+x@example.co.uk now", "mail <REDACTED_EMAIL> now"),
        ("Authorization: Bearer abc.DEF-123_x=", "Authorization: Bearer <REDACTED>"),
        ("key AKIAABCDEFGHIJKLMNOP here", "key <REDACTED_AWS_KEY> here"),
        ("ghp_" + "a" * 36, "<REDACTED_GITHUB_TOKEN>"),
        ("gho_" + "B1" * 18, "<REDACTED_GITHUB_TOKEN>"),
        ("gha_" + "Z" * 36, "<REDACTED_GITHUB_TOKEN>"),
        ("xoxb-1234-abcd", "<REDACTED_SLACK_TOKEN>"),
        ("xoxp-9-z", "<REDACTED_SLACK_TOKEN>"),
        ("card 4111111111111111 ok", "card <REDACTED_CARD> ok"),
        ("card 4111 1111 1111 1111", "card <REDACTED_CARD>"),
        ("amex 3782-822463-10005.", "amex <REDACTED_CARD>."),
        ("4111 1111 1111 1111 078-05-1120", "<REDACTED_CARD> <REDACTED_SSN>"),
        ("ssn 123-45-6789.", "ssn <REDACTED_SSN>."),
    ],
)
def test_string_patterns_are_replaced(text: str, expected: str) -> None:
    assert redact_string(text) == expected


def test_short_numbers_and_dates_are_kept() -> None:
    text = "order 123456789012 on 2026-11-22T10:00:00Z, tel 555 1234 5678"
    assert redact_string(text) == text


def test_lists_and_nested_strings_are_walked() -> None:
    assert redact([{"a": ["x@y.io"]}]) == [{"a": ["<REDACTED_EMAIL>"]}]


def test_structures_deeper_than_the_limit_are_replaced_whole() -> None:
    deep: object = "alice@example.com"
    for _ in range(MAX_DEPTH + 5):
        deep = {"d": deep}
    result = redact(deep)
    text = repr(result)
    assert "alice@example.com" not in text
    assert REDACTED in text


def test_structure_within_the_limit_is_preserved() -> None:
    value: object = "plain"
    for _ in range(MAX_DEPTH):
        value = {"d": value}
    assert redact(value) == value


def test_non_string_scalars_are_unchanged() -> None:
    assert redact({"n": 4111111111111111, "b": True, "z": None}) == {
        "n": 4111111111111111,
        "b": True,
        "z": None,
    }
