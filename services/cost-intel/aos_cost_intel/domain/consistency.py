"""Cross-panel consistency rules of the dashboard, checked on every response.

Each rule states something that must hold if the panels are right; a violation is a bug in
this service, reported with the rule id instead of being silently shown to a user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from aos_cost_intel.domain.money import exact_sum, percentage, plain


@dataclass(frozen=True)
class Row:
    """One breakdown row as the rules see it."""

    key: str
    cost_cents: Decimal
    request_count: int


@dataclass(frozen=True)
class Violation:
    rule_id: str
    message: str
    severity: str = "error"


@dataclass(frozen=True)
class Report:
    rules: tuple[str, ...]
    violations: tuple[Violation, ...]


@dataclass(frozen=True)
class DashboardFacts:
    total_cost_cents: Decimal
    request_count: int
    budget_cents: Decimal | None
    budget_used_pct: Decimal | None
    by_feature: Sequence[Row]
    by_user: Sequence[Row]
    by_model: Sequence[Row]
    anomaly_entities: Sequence[tuple[str, str]]


def _sum_rules(facts: DashboardFacts, rules: list[str], found: list[Violation]) -> None:
    panels = {"by_feature": facts.by_feature, "by_user": facts.by_user, "by_model": facts.by_model}
    for name, rows in panels.items():
        cost_rule, count_rule = f"{name}.cost_sum", f"{name}.request_sum"
        rules += [cost_rule, count_rule]
        total = exact_sum(row.cost_cents for row in rows)
        if total != facts.total_cost_cents:
            found.append(
                Violation(
                    cost_rule,
                    f"{name} sums to {plain(total)} cents but the summary says "
                    f"{plain(facts.total_cost_cents)}",
                )
            )
        requests = sum(row.request_count for row in rows)
        if requests != facts.request_count:
            found.append(
                Violation(
                    count_rule,
                    f"{name} counts {requests} requests but the summary says {facts.request_count}",
                )
            )
        keys = [row.key for row in rows]
        unique_rule = f"{name}.unique_keys"
        rules.append(unique_rule)
        if len(set(keys)) != len(keys):
            found.append(Violation(unique_rule, f"{name} lists an entity more than once"))


def check_dashboard(facts: DashboardFacts) -> Report:
    rules: list[str] = []
    found: list[Violation] = []
    _sum_rules(facts, rules, found)
    rules.append("summary.budget_used_pct")
    expected_pct = (
        percentage(facts.total_cost_cents, facts.budget_cents) if facts.budget_cents else None
    )
    if expected_pct != facts.budget_used_pct:
        found.append(
            Violation(
                "summary.budget_used_pct",
                f"budget_used_pct is {facts.budget_used_pct} but spend {plain(facts.total_cost_cents)} "
                f"of budget {facts.budget_cents} is {expected_pct}",
            )
        )
    rules.append("anomalies.entities_in_breakdowns")
    present = {
        "feature": {row.key for row in facts.by_feature},
        "user": {row.key for row in facts.by_user},
    }
    for entity_type, entity_id in facts.anomaly_entities:
        if entity_type in present and entity_id not in present[entity_type]:
            found.append(
                Violation(
                    "anomalies.entities_in_breakdowns",
                    f"anomaly on {entity_type} '{entity_id}' but by_{entity_type} does not list it",
                )
            )
    return Report(tuple(rules), tuple(found))
