"""The price book and exact per-token-type pricing.

Prices are USD cents per million tokens, one rate per token type. The five token types are
disjoint counts, so each token is priced exactly once: `input_tokens` excludes cached input
(cache reads and cache writes are their own types) and `output_tokens` excludes reasoning
tokens (priced at the reasoning rate). A provider that reports cached tokens *inside* its
prompt count must subtract them before recording; that is the double counting this avoids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from aos_cost_intel.domain.money import EXACT, ZERO, plain

TOKEN_TYPES = ("input", "cache_read", "cache_creation", "output", "reasoning")
MILLION = Decimal(1_000_000)
MAX_VERSION_LENGTH = 64
MAX_PRICE_ENTRIES = 2_000
MODEL_CACHE_SIZE = 10_000
_add, _multiply, _divide = EXACT.add, EXACT.multiply, EXACT.divide


class PriceBookError(ValueError):
    """A price-book document that cannot be loaded; the message names the offending field."""


@dataclass(frozen=True)
class TokenUsage:
    input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0

    def counts(self) -> dict[str, int]:
        """Token counts keyed by token type, in TOKEN_TYPES order."""
        return {
            "input": self.input_tokens,
            "cache_read": self.cache_read_input_tokens,
            "cache_creation": self.cache_creation_input_tokens,
            "output": self.output_tokens,
            "reasoning": self.reasoning_output_tokens,
        }


@dataclass(frozen=True)
class ModelPrice:
    model: str
    provider: str
    pattern: str
    input: Decimal
    cache_read: Decimal
    cache_creation: Decimal
    output: Decimal
    reasoning: Decimal
    effective_from: datetime
    effective_to: datetime | None = None
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)
    rates: tuple[Decimal, ...] = field(init=False, repr=False, compare=False)
    """The five rates in TOKEN_TYPES order."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", re.compile(self.pattern, re.IGNORECASE))
        object.__setattr__(self, "rates", tuple(getattr(self, t) for t in TOKEN_TYPES))

    def rate(self, token_type: str) -> Decimal:
        rate: Decimal = getattr(self, token_type)
        return rate

    def matches(self, model: str, at: datetime) -> bool:
        if at < self.effective_from:
            return False
        if self.effective_to is not None and at >= self.effective_to:
            return False
        return self._compiled.fullmatch(model) is not None


@dataclass(frozen=True)
class PriceBook:
    version: str
    prices: tuple[ModelPrice, ...]
    _by_model: dict[str, tuple[ModelPrice, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def find(self, model: str, at: datetime) -> ModelPrice | None:
        """The first entry (in book order) whose pattern fully matches and is effective at `at`.

        Pattern matches are remembered per model name (a bounded cache), so pricing a batch runs
        each regular expression once per distinct model, not once per record.
        """
        candidates = self._by_model.get(model)
        if candidates is None:
            candidates = tuple(p for p in self.prices if p._compiled.fullmatch(model) is not None)
            if len(self._by_model) < MODEL_CACHE_SIZE:
                self._by_model[model] = candidates
        for price in candidates:
            if price.effective_from <= at and (
                price.effective_to is None or at < price.effective_to
            ):
                return price
        return None


def cost_cents(usage: TokenUsage, price: ModelPrice) -> Decimal:
    """Exact cost in cents: sum over token types of count x rate / 1,000,000, never rounded."""
    return token_cost(
        price,
        (
            usage.input_tokens,
            usage.cache_read_input_tokens,
            usage.cache_creation_input_tokens,
            usage.output_tokens,
            usage.reasoning_output_tokens,
        ),
    )


def token_cost(price: ModelPrice, counts: tuple[int, int, int, int, int]) -> Decimal:
    """`cost_cents` from counts in TOKEN_TYPES order, without building a TokenUsage: batch
    ingestion prices 10,000 records per call, so the five terms are written out (the same exact
    operations in the same order as a loop, at two thirds of its cost)."""
    n0, n1, n2, n3, n4 = counts
    r0, r1, r2, r3, r4 = price.rates
    total = ZERO
    if n0:
        total = _add(total, _multiply(n0, r0))
    if n1:
        total = _add(total, _multiply(n1, r1))
    if n2:
        total = _add(total, _multiply(n2, r2))
    if n3:
        total = _add(total, _multiply(n3, r3))
    if n4:
        total = _add(total, _multiply(n4, r4))
    return _divide(total, MILLION)


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise PriceBookError(f"{where}: must be a decimal string")
    try:
        number = Decimal(value)
    except InvalidOperation as error:
        raise PriceBookError(f"{where}: {value!r} is not a decimal number") from error
    if not number.is_finite() or number < 0:
        raise PriceBookError(f"{where}: must be a finite number >= 0")
    return number


def _moment(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise PriceBookError(f"{where}: must be an ISO-8601 timestamp")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise PriceBookError(f"{where}: {value!r} is not an ISO-8601 timestamp") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _text(entry: Mapping[str, Any], key: str, where: str, *, limit: int = 200) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise PriceBookError(f"{where}.{key}: must be a non-empty string of at most {limit} chars")
    return value


def _entry(entry: Any, where: str) -> ModelPrice:
    if not isinstance(entry, Mapping):
        raise PriceBookError(f"{where}: must be an object")
    pattern = _text(entry, "pattern", where, limit=500)
    try:
        re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        raise PriceBookError(f"{where}.pattern: invalid regular expression: {error}") from error
    for required in ("input", "output"):
        if entry.get(required) is None:
            raise PriceBookError(f"{where}.{required}: required")
    input_rate = _decimal(entry["input"], f"{where}.input")
    output_rate = _decimal(entry["output"], f"{where}.output")

    def optional(key: str, default: Decimal) -> Decimal:
        value = entry.get(key)
        return default if value is None else _decimal(value, f"{where}.{key}")

    effective_from = _moment(
        entry.get("effective_from", "1970-01-01T00:00:00Z"), where + ".effective_from"
    )
    raw_to = entry.get("effective_to")
    effective_to = None if raw_to is None else _moment(raw_to, f"{where}.effective_to")
    if effective_to is not None and effective_to <= effective_from:
        raise PriceBookError(f"{where}.effective_to: must be after effective_from")
    model = entry.get("model") or pattern
    return ModelPrice(
        model=_text({"model": model}, "model", where),
        provider=str(entry.get("provider") or "unknown")[:64],
        pattern=pattern,
        input=input_rate,
        cache_read=optional("cache_read", input_rate),
        cache_creation=optional("cache_creation", input_rate),
        output=output_rate,
        reasoning=optional("reasoning", output_rate),
        effective_from=effective_from,
        effective_to=effective_to,
    )


def parse_price_book(document: Any) -> PriceBook:
    """Validate a price-book document (`{version, prices: [...]}`) into a PriceBook.

    Omitted cache rates default to the input rate and an omitted reasoning rate to the output
    rate, which is how providers that do not distinguish them bill.
    """
    if not isinstance(document, Mapping):
        raise PriceBookError("document: must be an object with 'version' and 'prices'")
    version = document.get("version")
    if not isinstance(version, str) or not version.strip() or len(version) > MAX_VERSION_LENGTH:
        raise PriceBookError(
            f"version: must be a non-empty string of at most {MAX_VERSION_LENGTH} chars"
        )
    entries = document.get("prices")
    if not isinstance(entries, Sequence) or isinstance(entries, str) or not entries:
        raise PriceBookError("prices: must be a non-empty list")
    if len(entries) > MAX_PRICE_ENTRIES:
        raise PriceBookError(f"prices: at most {MAX_PRICE_ENTRIES} entries")
    return PriceBook(
        version=version.strip(),
        prices=tuple(_entry(entry, f"prices[{index}]") for index, entry in enumerate(entries)),
    )


def price_entry_document(price: ModelPrice) -> dict[str, Any]:
    document: dict[str, Any] = {
        "model": price.model,
        "provider": price.provider,
        "pattern": price.pattern,
    }
    for token_type in TOKEN_TYPES:
        document[token_type] = plain(price.rate(token_type))
    document["effective_from"] = price.effective_from.isoformat()
    document["effective_to"] = price.effective_to.isoformat() if price.effective_to else None
    return document


def price_book_document(book: PriceBook) -> dict[str, Any]:
    """The JSON form of a book, loadable again by `parse_price_book` (prices as decimal strings)."""
    return {"version": book.version, "prices": [price_entry_document(p) for p in book.prices]}


def load_price_book_text(text: str) -> PriceBook:
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise PriceBookError(f"document: not valid JSON: {error}") from error
    return parse_price_book(document)


def load_price_book_file(path: Path) -> PriceBook:
    return load_price_book_text(path.read_text(encoding="utf-8"))


def shipped_price_book() -> PriceBook:
    """The price list shipped with the service (aos_cost_intel/data/prices.json)."""
    text = (
        resources.files("aos_cost_intel").joinpath("data/prices.json").read_text(encoding="utf-8")
    )
    return load_price_book_text(text)
