"""Trace comparison for replay parity (GET /api/v1/traces/compare/{a}/{b})."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

IDENTICAL = "Traces are deterministically identical"


def summarize(differences: Sequence[Mapping[str, Any]]) -> str:
    """`"Traces differ in N field(s): a, b, c and K more"` naming at most the first three."""
    if not differences:
        return IDENTICAL
    fields = ", ".join(str(item["field"]) for item in differences[:3])
    summary = f"Traces differ in {len(differences)} field(s): {fields}"
    if len(differences) > 3:
        summary += f" and {len(differences) - 3} more"
    return summary


def compare_traces(first: Mapping[str, Any], second: Mapping[str, Any]) -> dict[str, Any]:
    """Compare root_hash, seed, frozen_timestamp, step_count, then skill_name and
    outcome_category of each pair of steps (by position, up to the shorter trace)."""
    differences: list[dict[str, Any]] = []

    def differ(name: str, left: Any, right: Any) -> None:
        if left != right:
            differences.append({"field": name, "trace1": left, "trace2": right})

    for name in ("root_hash", "seed", "frozen_timestamp"):
        differ(name, first.get(name), second.get(name))
    steps1: Sequence[Mapping[str, Any]] = first.get("steps") or []
    steps2: Sequence[Mapping[str, Any]] = second.get("steps") or []
    differ("step_count", len(steps1), len(steps2))
    for index, (step1, step2) in enumerate(zip(steps1, steps2, strict=False)):
        differ(f"step[{index}].skill_name", step1.get("skill_name"), step2.get("skill_name"))
        differ(
            f"step[{index}].outcome_category",
            step1.get("outcome_category"),
            step2.get("outcome_category"),
        )
    return {
        "match": not differences,
        "trace1_root_hash": first.get("root_hash"),
        "trace2_root_hash": second.get("root_hash"),
        "differences": differences,
        "summary": summarize(differences),
    }
