from __future__ import annotations

from dataclasses import dataclass

import pytest

from aos_gateway.cb_expression import ExpressionError, parse_expression


@dataclass
class Stats:
    network: float = 0.0
    codes: float = 0.0
    latency: float = 0.0
    seen: tuple[int, ...] = ()

    def network_error_ratio(self) -> float:
        return self.network

    def response_code_ratio(self, start: int, end: int, div_start: int, div_end: int) -> float:
        self.seen = (start, end, div_start, div_end)
        return self.codes

    def latency_at_quantile_ms(self, quantile: float) -> float:
        return self.latency


def test_network_error_ratio_comparison() -> None:
    predicate = parse_expression("NetworkErrorRatio() > 0.30")
    assert predicate(Stats(network=0.5))
    assert not predicate(Stats(network=0.3))


def test_response_code_ratio_receives_its_four_bounds() -> None:
    stats = Stats(codes=0.26)
    assert parse_expression("ResponseCodeRatio(500, 600, 0, 600) > 0.25")(stats)
    assert stats.seen == (500, 600, 0, 600)


def test_or_and_and_combine_with_precedence() -> None:
    predicate = parse_expression(
        "NetworkErrorRatio() > 0.5 || ResponseCodeRatio(500, 600, 0, 600) > 0.25 "
        "&& LatencyAtQuantileMS(50.0) > 100"
    )
    assert predicate(Stats(network=0.6))
    assert not predicate(Stats(codes=0.3, latency=50))
    assert predicate(Stats(codes=0.3, latency=150))


def test_parentheses_group_conditions() -> None:
    predicate = parse_expression(
        "(NetworkErrorRatio() > 0.5 || ResponseCodeRatio(500, 600, 0, 600) > 0.25) "
        "&& LatencyAtQuantileMS(99) >= 10"
    )
    assert not predicate(Stats(network=0.6, latency=1))
    assert predicate(Stats(network=0.6, latency=10))


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("NetworkErrorRate() > 0.5", "unknown function 'NetworkErrorRate'"),
        ("NetworkErrorRatio()", "expected a comparison"),
        ("ResponseCodeRatio(500, 600) > 0.1", "takes 4 argument(s), got 2"),
        ("NetworkErrorRatio() > 0.5 ||", "expected a function or a number"),
        ("NetworkErrorRatio() => 0.5", "unexpected"),
        ("", "empty expression"),
    ],
)
def test_bad_expressions_are_refused_naming_the_problem(expression: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression(expression)
    assert fragment in str(caught.value)
