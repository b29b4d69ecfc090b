"""Exact money arithmetic: cents are `Decimal`s that are never rounded where money is summed.

Sums and products of cents use a context that traps any rounding, so a silent loss of precision
is impossible: an operation that would round raises instead. Only derived figures that are
estimates by nature (averages, projections, percentages) are quantized, explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation, Rounded

EXACT = Context(prec=200, traps=[Inexact, Rounded, InvalidOperation])
ZERO = Decimal(0)
ESTIMATE_QUANTUM = Decimal("0.0001")
PCT_QUANTUM = Decimal("0.01")


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    total = ZERO
    for value in values:
        total = EXACT.add(total, value)
    return total


def plain(value: Decimal) -> str:
    """A decimal as a plain string (no exponent, no trailing zeros): '0.0000005', '1500'."""
    normalized = value.normalize(EXACT) if value else ZERO
    return format(normalized, "f")


def divide(
    numerator: Decimal, denominator: Decimal, quantum: Decimal = ESTIMATE_QUANTUM
) -> Decimal:
    """A quotient for derived figures only, rounded half-even to `quantum`."""
    context = Context(prec=60, rounding=ROUND_HALF_EVEN)
    return context.divide(numerator, denominator).quantize(quantum, rounding=ROUND_HALF_EVEN)


def percentage(part: Decimal, whole: Decimal) -> Decimal | None:
    """`part` as a percentage of `whole`, to two places; None when `whole` is zero."""
    if not whole:
        return None
    return divide(EXACT.multiply(part, Decimal(100)), whole, PCT_QUANTUM)
