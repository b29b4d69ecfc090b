import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- fast paths: the pre-filter and copy-on-write must never change what is stored ----------

_ALPHABET = "aAbBeErRkKiIgGhHpPoOxXsS_-@. \t0123456789٣é\x00"


def _full_scan(text: str) -> str:
    from aos_traces.domain.redaction import _PATTERN, _replace

    return _PATTERN.sub(_replace, text.replace("\x00", "\ufffd"))


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=40) | st.text(max_size=40))
def test_pre_filter_never_skips_a_string_the_patterns_would_change(text: str) -> None:
    assert redact_string(text) == _full_scan(text)


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: BEARER abc",
        "bEaReR\txyz",
        "AKIAABCDEFGHIJKLMNOP",
        "ghp_" + "a" * 36,
        "xoxs-1-2",
        "a@b.io",
        "123-45-6789",
        "4111111111111111",
        "long text " * 200 + "alice@example.com",
        "long text " * 200 + "4111 1111 1111 1111",
        "non-ascii ✓ 123-45-6789",
        "arabic-indic digits ٤١١١١١١١١١١١١١١١",
    ],
)
def test_pre_filter_lets_every_pattern_through(text: str) -> None:
    assert redact_string(text) == _full_scan(text)
    assert redact_string(text) != text


def test_clean_values_are_returned_as_they_are() -> None:
    clean = {"q": "question 3", "max_tokens": 256, "nested": [{"a": "b"}, 1.5, None, True]}
    assert redact(clean) is clean
    assert redact(clean["nested"]) is clean["nested"]
    assert redact_string("plain text") == "plain text"


def test_copy_on_write_keeps_order_and_leaves_the_input_alone() -> None:
    data = {"a": 1, "b": [1, "x@y.io", {"token": "t"}], "c": "keep", "d": "z@y.io"}
    original = repr(data)
    result = redact(data)
    assert result == {
        "a": 1,
        "b": [1, "<REDACTED_EMAIL>", {"token": REDACTED}],
        "c": "keep",
        "d": "<REDACTED_EMAIL>",
    }
    assert list(result) == ["a", "b", "c", "d"]
    assert repr(data) == original


def test_nul_in_keys_is_replaced_even_when_nothing_else_changes() -> None:
    assert redact({"a\x00b": 1, "c": 2}) == {"a\ufffdb": 1, "c": 2}
    assert redact({"pass\x00": "x"}) == {"pass\ufffd": "x"}


def test_tuples_become_lists() -> None:
    assert redact(("a", ("b",))) == ["a", ["b"]]
    assert redact({"t": ("x@y.io",)}) == {"t": ["<REDACTED_EMAIL>"]}
