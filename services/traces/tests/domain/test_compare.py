from aos_traces.domain.compare import IDENTICAL, compare_traces


def trace(root: str = "h", steps: int = 2, **extra: object) -> dict:
    return {
        "root_hash": root,
        "seed": 42,
        "frozen_timestamp": None,
        "steps": [{"skill_name": f"s{i}", "outcome_category": "success"} for i in range(steps)],
        **extra,
    }


def test_identical_traces_match() -> None:
    result = compare_traces(trace(), trace())
    assert result["match"] is True
    assert result["summary"] == IDENTICAL
    assert result["differences"] == []


def test_differences_are_listed_in_order_with_both_values() -> None:
    result = compare_traces(trace("a"), trace("b", seed=7))
    assert result["differences"] == [
        {"field": "root_hash", "trace1": "a", "trace2": "b"},
        {"field": "seed", "trace1": 42, "trace2": 7},
    ]
    assert result["summary"] == "Traces differ in 2 field(s): root_hash, seed"


def test_summary_names_three_and_counts_the_rest() -> None:
    first = trace("a", frozen_timestamp="x")
    second = trace("b", steps=1, seed=1)
    second["steps"][0]["skill_name"] = "other"
    result = compare_traces(first, second)
    assert [d["field"] for d in result["differences"]] == [
        "root_hash",
        "seed",
        "frozen_timestamp",
        "step_count",
        "step[0].skill_name",
    ]
    assert result["summary"] == (
        "Traces differ in 5 field(s): root_hash, seed, frozen_timestamp and 2 more"
    )


def test_outcome_category_is_compared_per_step() -> None:
    second = trace()
    second["steps"][1]["outcome_category"] = "failure"
    result = compare_traces(trace(), second)
    assert result["differences"] == [
        {"field": "step[1].outcome_category", "trace1": "success", "trace2": "failure"}
    ]
