from datetime import UTC, datetime
from decimal import Decimal

import pytest

from aos_cost_intel.domain.money import plain
from aos_cost_intel.domain.pricing import (
    TOKEN_TYPES,
    ModelPrice,
    PriceBookError,
    TokenUsage,
    cost_cents,
    parse_price_book,
    price_book_document,
    shipped_price_book,
)

NOW = datetime(2025, 11, 1, tzinfo=UTC)
RATES = ModelPrice(
    model="m",
    provider="p",
    pattern="m",
    input=Decimal("300"),
    cache_read=Decimal("30"),
    cache_creation=Decimal("375"),
    output=Decimal("1500"),
    reasoning=Decimal("2000"),
    effective_from=datetime(2020, 1, 1, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (TokenUsage(input_tokens=1_000_000), Decimal("300")),
        (TokenUsage(cache_read_input_tokens=1_000_000), Decimal("30")),
        (TokenUsage(cache_creation_input_tokens=1_000_000), Decimal("375")),
        (TokenUsage(output_tokens=1_000_000), Decimal("1500")),
        (TokenUsage(reasoning_output_tokens=1_000_000), Decimal("2000")),
    ],
)
def test_each_token_type_is_priced_at_its_own_rate(usage: TokenUsage, expected: Decimal) -> None:
    assert cost_cents(usage, RATES) == expected


def test_cached_tokens_are_priced_once_not_also_as_input() -> None:
    usage = TokenUsage(input_tokens=1_000, cache_read_input_tokens=9_000, output_tokens=500)
    expected = (Decimal(1_000) * 300 + Decimal(9_000) * 30 + Decimal(500) * 1500) / 1_000_000
    assert cost_cents(usage, RATES) == expected == Decimal("1.32")


def test_a_mixed_usage_costs_the_sum_of_its_parts() -> None:
    usage = TokenUsage(7, 11, 13, 17, 19)
    parts = [
        cost_cents(TokenUsage(**{field: count}), RATES)
        for field, count in zip(
            [
                "input_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
                "output_tokens",
                "reasoning_output_tokens",
            ],
            [7, 11, 13, 17, 19],
            strict=True,
        )
    ]
    assert cost_cents(usage, RATES) == sum(parts)


def test_a_single_cheap_token_is_not_truncated() -> None:
    price = shipped_price_book().find("gpt-5-nano", NOW)
    assert price is not None
    cost = cost_cents(TokenUsage(cache_read_input_tokens=1), price)
    assert cost == Decimal("0.0000005")
    assert plain(cost) == "0.0000005"


def test_enormous_counts_stay_exact() -> None:
    usage = TokenUsage(input_tokens=10**15 + 1, output_tokens=3)
    assert cost_cents(usage, RATES) == Decimal("300000000000.0003") + Decimal("0.0045")


def test_shipped_book_covers_the_five_providers_with_every_rate() -> None:
    book = shipped_price_book()
    assert book.version
    assert {p.provider for p in book.prices} >= {"openai", "anthropic", "google", "mistral", "meta"}
    for price in book.prices:
        for token_type in TOKEN_TYPES:
            assert price.rate(token_type) >= 0


@pytest.mark.parametrize(
    ("model", "entry"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai/gpt-4.1-mini", "gpt-4.1-mini"),
        ("GPT-4.1", "gpt-4.1"),
        ("gpt-5-nano", "gpt-5-nano"),
        ("o4-mini-2025-04-16", "o4-mini"),
        ("claude-3-5-sonnet-20241022", "claude-sonnet-4.5"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-sonnet-4.5"),
        ("claude-3-5-sonnet-v2@20241022", "claude-sonnet-4.5"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4.5"),
        ("claude-opus-4-5", "claude-opus-4.5"),
        ("claude-opus-4-1-20250805", "claude-opus-4.1"),
        ("claude-3-5-haiku-latest", "claude-3.5-haiku"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4.5"),
        ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
        ("gemini-2.5-flash", "gemini-2.5-flash"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("gemini-1.5-flash-8b", "gemini-1.5-flash-8b"),
        ("mistral-large-2411", "mistral-large"),
        ("mistral-small-latest", "mistral-small"),
        ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "llama-3.3-70b"),
        ("llama-3.1-8b-instant", "llama-3.1-8b"),
        ("meta.llama3-1-70b-instruct-v1:0", "llama-3.1-70b"),
    ],
)
def test_shipped_patterns_pick_the_right_entry(model: str, entry: str) -> None:
    price = shipped_price_book().find(model, NOW)
    assert price is not None
    assert price.model == entry


def test_unknown_models_have_no_price() -> None:
    assert shipped_price_book().find("my-own-model", NOW) is None


def test_effective_dates_select_the_price_in_force() -> None:
    book = shipped_price_book()
    before = book.find("o3", datetime(2025, 6, 1, tzinfo=UTC))
    after = book.find("o3", datetime(2025, 6, 10, tzinfo=UTC))
    assert before is not None and after is not None
    assert (before.input, after.input) == (Decimal("1000"), Decimal("200"))


def test_omitted_cache_and_reasoning_rates_default_to_input_and_output() -> None:
    book = parse_price_book(
        {"version": "v", "prices": [{"pattern": "x", "input": "3", "output": "7"}]}
    )
    price = book.prices[0]
    assert (price.cache_read, price.cache_creation, price.reasoning) == (3, 3, 7)


def test_a_book_survives_a_round_trip_through_its_document() -> None:
    book = shipped_price_book()
    assert parse_price_book(price_book_document(book)) == book


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"prices": [{"pattern": "x", "input": 1, "output": 1}]}, "version"),
        ({"version": "v", "prices": []}, "prices"),
        (
            {"version": "v", "prices": [{"pattern": "(", "input": 1, "output": 1}]},
            "prices[0].pattern",
        ),
        (
            {"version": "v", "prices": [{"pattern": "x", "input": "-1", "output": 1}]},
            "prices[0].input",
        ),
        (
            {"version": "v", "prices": [{"pattern": "x", "input": "abc", "output": 1}]},
            "prices[0].input",
        ),
        ({"version": "v", "prices": [{"pattern": "x", "input": 1}]}, "prices[0].output"),
        (
            {
                "version": "v",
                "prices": [
                    {
                        "pattern": "x",
                        "input": 1,
                        "output": 1,
                        "effective_from": "2025-01-02T00:00:00Z",
                        "effective_to": "2025-01-01T00:00:00Z",
                    }
                ],
            },
            "prices[0].effective_to",
        ),
    ],
)
def test_invalid_books_are_refused_naming_the_field(document: object, message: str) -> None:
    with pytest.raises(PriceBookError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_price_book(document)
