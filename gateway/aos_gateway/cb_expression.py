"""Traefik circuit-breaker expressions: `NetworkErrorRatio() > 0.30 || ResponseCodeRatio(500, 600,
0, 600) > 0.25 || LatencyAtQuantileMS(50.0) > 100`.

Parsed once at load time into a predicate over a `BreakerStats`; an unknown function, a bad
operator or a missing comparison is a start-up error naming the expression.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class ExpressionError(ValueError):
    """An expression Traefik would refuse; the message names it."""


class BreakerStats(Protocol):
    def network_error_ratio(self) -> float: ...

    def response_code_ratio(self, start: int, end: int, div_start: int, div_end: int) -> float: ...

    def latency_at_quantile_ms(self, quantile: float) -> float: ...


Predicate = Callable[[BreakerStats], bool]
Metric = Callable[[BreakerStats], float]

_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_FUNCTIONS = {"NetworkErrorRatio": 0, "ResponseCodeRatio": 4, "LatencyAtQuantileMS": 1}
_TOKEN = re.compile(
    r"\s*(?:(?P<op>&&|\|\||>=|<=|==|!=|[<>(),])|(?P<number>-?\d+(?:\.\d*)?|-?\.\d+)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    position: int


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens: list[_Token] = []
        position = 0
        while position < len(expression) and expression[position:].strip():
            match = _TOKEN.match(expression, position)
            if match is None:
                raise self.error("unexpected character", position)
            kind = match.lastgroup or "op"
            self.tokens.append(_Token(kind, match.group(kind), match.start(kind)))
            position = match.end()
        self.index = 0

    def error(self, message: str, position: int | None = None) -> ExpressionError:
        where = f" at position {position}" if position is not None else " at end of expression"
        return ExpressionError(
            f"bad circuit breaker expression {self.expression!r}: {message}{where}"
        )

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, kind: str, text: str | None = None) -> _Token:
        token = self.peek()
        if token is None or token.kind != kind or (text is not None and token.text != text):
            raise self.error(f"expected {text or kind!r}", token.position if token else None)
        self.index += 1
        return token

    def parse(self) -> Predicate:
        if not self.tokens:
            raise ExpressionError("bad circuit breaker expression '': empty expression")
        predicate = self.parse_or()
        if (token := self.peek()) is not None:
            raise self.error(f"unexpected {token.text!r}", token.position)
        return predicate

    def _is_op(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "op" and token.text == text

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self._is_op("||"):
            self.index += 1
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else (lambda stats: any(p(stats) for p in parts))

    def parse_and(self) -> Predicate:
        parts = [self.parse_comparison()]
        while self._is_op("&&"):
            self.index += 1
            parts.append(self.parse_comparison())
        return parts[0] if len(parts) == 1 else (lambda stats: all(p(stats) for p in parts))

    def parse_comparison(self) -> Predicate:
        if self._is_op("("):
            self.index += 1
            inner = self.parse_or()
            self.take("op", ")")
            return inner
        left = self.parse_operand()
        token = self.peek()
        if token is None or token.kind != "op" or token.text not in _COMPARISONS:
            raise self.error("expected a comparison", token.position if token else None)
        self.index += 1
        compare = _COMPARISONS[token.text]
        right = self.parse_operand()
        return lambda stats: compare(left(stats), right(stats))

    def parse_operand(self) -> Metric:
        token = self.peek()
        if token is None:
            raise self.error("expected a function or a number")
        if token.kind == "number":
            self.index += 1
            value = float(token.text)
            return lambda _stats: value
        if token.kind != "ident":
            raise self.error(f"unexpected {token.text!r}", token.position)
        self.index += 1
        if token.text not in _FUNCTIONS:
            raise self.error(f"unknown function {token.text!r}", token.position)
        self.take("op", "(")
        args: list[float] = []
        if not self._is_op(")"):
            args.append(float(self.take("number").text))
            while self._is_op(","):
                self.index += 1
                args.append(float(self.take("number").text))
        self.take("op", ")")
        if len(args) != _FUNCTIONS[token.text]:
            raise self.error(
                f"{token.text} takes {_FUNCTIONS[token.text]} argument(s), got {len(args)}",
                token.position,
            )
        return _function(token.text, args)


def _function(name: str, args: list[float]) -> Metric:
    if name == "NetworkErrorRatio":
        return lambda stats: stats.network_error_ratio()
    if name == "ResponseCodeRatio":
        start, end, div_start, div_end = (int(a) for a in args)
        return lambda stats: stats.response_code_ratio(start, end, div_start, div_end)
    quantile = args[0]
    if not 0 < quantile <= 100:
        raise ExpressionError(f"LatencyAtQuantileMS quantile must be in (0, 100], got {quantile}")
    return lambda stats: stats.latency_at_quantile_ms(quantile)


def parse_expression(expression: str) -> Predicate:
    """Compile a circuit-breaker expression to a predicate over `BreakerStats`."""
    return _Parser(expression).parse()
