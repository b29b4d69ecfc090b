"""Domain counters: what the platform did (cost recorded, tokens, spans ingested, exports, budget
refusals, ledger entries), beside the per-app HTTP metrics of `aos_common.metrics`.

They live in one process-wide registry that every app's /metrics appends, because the code that
counts (a service layer, a repository helper) has no app at hand; each counter carries the
`service` label, so processes running one service (as deployed) report exactly their own. The
Grafana dashboard (compose/grafana/dashboards/aos.json) charts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, generate_latest

REGISTRY = CollectorRegistry()

COST_RECORDED_CENTS = Counter(
    "aos_cost_recorded_cents",
    "Cost recorded, in cents, by model (duplicates by request id not counted)",
    ["service", "model"],
    registry=REGISTRY,
)
TOKENS = Counter(
    "aos_tokens",
    "Tokens recorded with cost, by type (input, output, cache_read_input, cache_creation_input, "
    "reasoning_output)",
    ["service", "type"],
    registry=REGISTRY,
)
SPANS_INGESTED = Counter(
    "aos_spans_ingested",
    "OTLP spans accepted, by transport",
    ["service", "transport"],
    registry=REGISTRY,
)
STEPS_INGESTED = Counter(
    "aos_steps_ingested", "Trace steps stored, by route", ["service", "route"], registry=REGISTRY
)
EXPORTS = Counter(
    "aos_exports", "Exports produced, by kind", ["service", "kind"], registry=REGISTRY
)
BUDGET_REFUSALS = Counter(
    "aos_budget_refusals",
    "Requests refused because a budget is exhausted, by where",
    ["service", "where"],
    registry=REGISTRY,
)
LEDGER_ENTRIES = Counter(
    "aos_ledger_entries", "Audit ledger entries appended", ["service"], registry=REGISTRY
)


def count_cost(service: str, records: Iterable[tuple[str, Decimal, Mapping[str, int]]]) -> None:
    """Add (model, cents, tokens by type) records, summed first so a batch costs one `inc` per
    model and type."""
    cents: dict[str, Decimal] = {}
    tokens: dict[str, int] = {}
    for model, cost_cents, token_counts in records:
        cents[model] = cents.get(model, Decimal(0)) + cost_cents
        for kind, amount in token_counts.items():
            tokens[kind] = tokens.get(kind, 0) + amount
    for model, model_cents in cents.items():
        COST_RECORDED_CENTS.labels(service, model).inc(float(model_cents))
    for kind, count in tokens.items():
        if count:
            TOKENS.labels(service, kind).inc(count)


def render() -> bytes:
    return generate_latest(REGISTRY)
