"""Sums over random records: every panel equals an independently computed total, to the cent."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aos_common.testing import principal_headers
from aos_cost_intel.domain.periods import PERIODS, floor_hour

# Offsets (hours before now) that stay clear of the 24h / 7d / 30d window edges, so the
# server's clock and the test's agree on which window each record falls into.
offsets = st.one_of(
    st.floats(min_value=0.05, max_value=22),
    st.floats(min_value=26, max_value=7 * 24 - 2),
    st.floats(min_value=7 * 24 + 2, max_value=29 * 24),
)
costs = st.decimals(min_value=0, max_value=10_000, places=9, allow_nan=False, allow_infinity=False)
record = st.fixed_dictionaries(
    {
        "offset": offsets,
        "cost_cents": costs,
        "user_id": st.sampled_from(["u1", "u2", "u3", None]),
        "feature_tag": st.sampled_from(["f.one", "f.two", None, "not.registered"]),
        "model": st.sampled_from(["gpt-4o", "claude-haiku-4-5", "other"]),
    }
)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(records=st.lists(record, min_size=0, max_size=40))
async def test_every_breakdown_sums_to_the_summary_and_to_the_records(
    client: httpx.AsyncClient, records: list[dict[str, object]]
) -> None:
    tenant = "tnt_" + secrets.token_hex(8)
    headers = principal_headers(tenant, roles=["admin"])
    for tag in ("f.one", "f.two"):
        await client.post(
            "/api/v1/cost/features", json={"tag": tag, "display_name": tag}, headers=headers
        )
    now = datetime.now(UTC)
    batch = [
        {
            "model": r["model"],
            "cost_cents": str(r["cost_cents"]),
            "user_id": r["user_id"],
            "feature_tag": r["feature_tag"],
            "occurred_at": (now - timedelta(hours=float(r["offset"]))).isoformat(),  # type: ignore[arg-type]
        }
        for r in records
    ]
    response = await client.post(
        "/api/v1/cost/records/batch", json={"records": batch}, headers=headers
    )
    assert response.status_code == 201, response.text
    for period, (length, _, _) in PERIODS.items():
        start = floor_hour(now - length)
        inside = [r for r in records if now - timedelta(hours=float(r["offset"])) >= start]  # type: ignore[arg-type]
        expected = sum((Decimal(str(r["cost_cents"])) for r in inside), Decimal(0))
        params = {"period": period}
        summary = (await client.get("/api/v1/cost/summary", params=params, headers=headers)).json()
        assert Decimal(summary["total_cost_cents"]) == expected
        assert summary["request_count"] == len(inside)
        for panel in ("by-feature", "by-user", "by-model"):
            rows = (
                await client.get(f"/api/v1/cost/{panel}", params=params, headers=headers)
            ).json()["data"]
            assert (
                sum((Decimal(row["total_cost_cents"]) for row in rows), Decimal(0)) == expected
            ), panel
            assert sum(row["request_count"] for row in rows) == len(inside), panel
        dashboard = (
            await client.get("/api/v1/cost/dashboard", params=params, headers=headers)
        ).json()
        assert dashboard["consistency"]["violations"] == []
        assert Decimal(dashboard["summary"]["total_cost_cents"]) == expected
