"""`aos demo seed`: thirty days of believable activity for the demo tenant, through the public API.

Everything goes through the gateway with the demo admin key, exactly as an integration would send
it, so the console shows what the platform really computed: costs per model, feature and user with
a spike two days ago, a tenant budget near its limit, the anomalies the detector finds, agent runs
with steps (some failing, one pair that diverges), replay mismatches, log exports and the audit
entries all of that leaves. Ids are derived from the day and position, so seeding twice adds
nothing the second time (cost `request_id`s and trace ids are idempotent).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from aos_cli.config import load_config
from aos_cli.credentials import read_json
from aos_cli.errors import AosError

demo_app = typer.Typer(help="Demo data for the console.", no_args_is_help=True)
DAYS = 30
SPIKE_DAYS_AGO = 2
FEATURES = {
    "support.chat": "Support chat",
    "search.answer": "Search answers",
    "billing.summarize": "Billing summaries",
    "onboarding.assist": "Onboarding assistant",
}
MODELS = {  # model: (share of requests, cents per request around which costs vary)
    "gpt-4o": (0.30, Decimal("38")),
    "claude-sonnet-4": (0.25, Decimal("46")),
    "gpt-4o-mini": (0.30, Decimal("3.2")),
    "claude-haiku-4-5": (0.15, Decimal("8.5")),
}
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"]
AGENTS = {
    "support-bot": ["classify_ticket", "search_kb", "draft_reply", "policy_check", "send_reply"],
    "research-agent": ["plan", "web_search", "read_sources", "summarize", "cite"],
    "billing-agent": ["fetch_invoice", "explain_charges", "apply_credit", "notify"],
}
COST_BATCH = 2_000


@dataclass(frozen=True)
class Step:
    label: str
    total: int
    run: Callable[[httpx.Client], Iterator[int]]


def cost_records(now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    """Hourly traffic with a daytime peak; support.chat spikes five-fold two days ago."""
    records = []
    models = list(MODELS)
    weights = [MODELS[m][0] for m in models]
    for day in range(DAYS, -1, -1):
        for hour in range(24):
            moment = (now - timedelta(days=day)).replace(
                hour=hour, minute=0, second=0, microsecond=0
            )
            if moment >= now:
                continue
            busy = 3 if 8 <= hour <= 19 else 1
            for index in range(busy + rng.randrange(2)):
                feature = rng.choice(list(FEATURES))
                model = rng.choices(models, weights)[0]
                base = MODELS[model][1] * Decimal(rng.uniform(0.6, 1.5)).quantize(Decimal("0.0001"))
                if day == SPIKE_DAYS_AGO and feature == "support.chat":
                    base *= 5
                records.append(
                    {
                        "request_id": f"demo-{moment:%Y%m%d%H}-{index}",
                        "model": model,
                        "feature_tag": feature,
                        "user_id": rng.choice(USERS),
                        "input_tokens": rng.randrange(400, 4000),
                        "output_tokens": rng.randrange(100, 1200),
                        "cost_cents": str(base.quantize(Decimal("0.000001"))),
                        "occurred_at": min(
                            moment + timedelta(minutes=rng.randrange(60)),
                            now - timedelta(seconds=30),
                        ).isoformat(),
                    }
                )
    return records


def traces(now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    """Sixty runs over thirty days, about one in eight failing, plus a pair that diverges."""
    out = []
    for number in range(60):
        agent = rng.choice(list(AGENTS))
        started = now - timedelta(days=rng.uniform(0.05, DAYS - 0.5))
        failing = rng.random() < 0.12
        out.append(
            _trace(f"run_demo_{number:03d}", agent, started, rng, fail_at=2 if failing else None)
        )
    pair_start = now - timedelta(hours=5)
    out.append(_trace("run_demo_good", "support-bot", pair_start, random.Random(1), fail_at=None))
    out.append(_trace("run_demo_bad", "support-bot", pair_start, random.Random(1), fail_at=3))
    return out


def _trace(
    run_id: str, agent: str, started: datetime, rng: random.Random, *, fail_at: int | None
) -> dict[str, Any]:
    steps = []
    clock = started
    for index, skill in enumerate(AGENTS[agent]):
        failed = fail_at == index
        duration = rng.uniform(120, 2400)
        steps.append(
            {
                "step_index": index,
                "skill_id": f"{agent}.{skill}",
                "skill_name": skill,
                "status": "failure" if failed else "success",
                "outcome_category": "error" if failed else "ok",
                "outcome_code": "TIMEOUT" if failed else None,
                "params": {"attempt": 1, "skill": skill},
                "outcome_data": {"ok": not failed},
                "cost_cents": round(rng.uniform(0.2, 6.0), 4),
                "duration_ms": round(duration, 1),
                "timestamp": clock.isoformat(),
            }
        )
        clock += timedelta(milliseconds=duration + rng.uniform(5, 80))
        if failed:
            break
    return {
        "run_id": run_id,
        "agent_id": agent,
        "plan": AGENTS[agent],
        "seed": 42,
        "frozen_timestamp": "2026-01-01T00:00:00Z",
        "started_at": started.isoformat(),
        "completed_at": clock.isoformat(),
        "status": "failed" if fail_at is not None else "completed",
        "incident_id": "inc_demo_timeouts" if fail_at is not None else None,
        "steps": steps,
    }


def _check(response: httpx.Response, what: str) -> httpx.Response:
    if response.status_code >= 400:
        raise AosError(f"Seeding {what} failed: HTTP {response.status_code} {response.text[:300]}")
    return response


def _data(response: httpx.Response) -> Any:
    body = response.json()
    return body["data"] if isinstance(body, dict) and "success" in body and "data" in body else body


def plan(now: datetime, seed: int = 7) -> list[Step]:
    """The seeding steps, in order; each one is a few public API calls."""
    rng = random.Random(seed)
    records = cost_records(now, rng)
    runs = traces(now, rng)

    def features(client: httpx.Client) -> Iterator[int]:
        for tag, name in FEATURES.items():
            response = client.post("/api/v1/cost/features", json={"tag": tag, "display_name": name})
            if response.status_code != 409:  # already there from an earlier seed
                _check(response, f"feature {tag}")
        yield 1

    def costs(client: httpx.Client) -> Iterator[int]:
        for start in range(0, len(records), COST_BATCH):
            chunk = records[start : start + COST_BATCH]
            _check(client.post("/api/v1/cost/records/batch", json={"records": chunk}), "costs")
            yield len(chunk)

    def trace_batch(client: httpx.Client) -> Iterator[int]:
        _check(client.post("/api/v1/traces/batch", json=runs), "traces")
        yield 1

    def mismatches(client: httpx.Client) -> Iterator[int]:
        for run_id, step, reason in (
            ("run_demo_bad", 3, "Replay output differs from the recorded output"),
            ("run_demo_007", 1, "Tool result changed between replays"),
            ("run_demo_021", 2, "Model answer hash differs"),
        ):
            trace = _data(_check(client.get(f"/api/v1/traces/{run_id}"), f"trace {run_id}"))
            body = {
                "step_index": step,
                "reason": reason,
                "expected_hash": "a" * 16,
                "actual_hash": "b" * 16,
            }
            _check(
                client.post(f"/api/v1/traces/{trace['trace_id']}/mismatch", json=body), "mismatch"
            )
        yield 1

    def budgets(client: httpx.Client) -> Iterator[int]:
        feature = {
            "budget_type": "feature",
            "entity_id": "support.chat",
            "monthly_limit_cents": "2500000",
            "hard_limit_enabled": True,
        }
        _check(client.post("/api/v1/cost/budgets", json=feature), "feature budget")
        user = {"budget_type": "user", "entity_id": "alice", "daily_limit_cents": "30000"}
        _check(client.post("/api/v1/cost/budgets", json=user), "user budget")
        probe = {"budget_type": "tenant", "monthly_limit_cents": "100000000"}
        created = _data(_check(client.post("/api/v1/cost/budgets", json=probe), "tenant budget"))
        spent = Decimal(created["current_monthly_spend_cents"])
        near = max(spent / Decimal("0.92"), Decimal("1000")).quantize(Decimal("1"))
        tenant = {
            "budget_type": "tenant",
            "monthly_limit_cents": str(near),
            "warn_threshold_pct": 80,
        }
        _check(client.post("/api/v1/cost/budgets", json=tenant), "tenant budget")
        yield 1

    def anomalies(client: httpx.Client) -> Iterator[int]:
        _check(client.post("/api/v1/cost/anomalies/detect", json={"escalate": False}), "anomalies")
        yield 1

    def exports(client: httpx.Client) -> Iterator[int]:
        for fmt in ("csv", "json", "ndjson"):
            _check(client.get("/api/v1/guard/logs/export", params={"format": fmt}), "export")
        yield 1

    def audit(client: httpx.Client) -> Iterator[int]:
        entry = {
            "event_type": "IncidentAcknowledged",
            "entity_type": "INCIDENT",
            "entity_id": "inc_demo_timeouts",
            "action_reason": "On-call acknowledged the support-bot timeouts",
        }
        _check(client.post("/api/v1/audit/entries", json=entry), "audit entry")
        yield 1

    return [
        Step("Feature tags", 1, features),
        Step(f"{len(records):,} cost records", len(records), costs),
        Step(f"{len(runs)} agent runs with steps", 1, trace_batch),
        Step("Replay mismatches", 1, mismatches),
        Step("Budgets", 1, budgets),
        Step("Anomaly detection", 1, anomalies),
        Step("Log exports", 1, exports),
        Step("Audit entries", 1, audit),
    ]


def seed(gateway_url: str, api_key: str, console: Console, *, now: datetime | None = None) -> None:
    steps = plan(now or datetime.now(UTC))
    headers = {"X-AOS-Key": api_key}
    with (
        httpx.Client(base_url=gateway_url, headers=headers, timeout=60, trust_env=False) as client,
        Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
        ) as progress,
    ):
        for step in steps:
            task = progress.add_task(step.label, total=step.total)
            try:
                for done in step.run(client):
                    progress.advance(task, done)
            except httpx.HTTPError as error:
                raise AosError(f"Seeding stopped at {step.label}: {error}") from error


@demo_app.command("seed")
def seed_command() -> None:
    """Fill the demo tenant with 30 days of data through the gateway (run `aos up` first)."""
    console = Console()
    credentials = read_json(load_config().credentials_path)
    gateway, key = credentials.get("gateway_url"), credentials.get("admin_key")
    if not gateway or not key:
        typer.echo("No demo tenant credentials found: run `aos up` first.", err=True)
        raise typer.Exit(1)
    try:
        seed(str(gateway), str(key), console)
    except AosError as error:
        typer.echo(error.sentence, err=True)
        raise typer.Exit(error.exit_code) from None
    console.print(f"Demo data seeded. Open {gateway}/ to see it in the console.")
