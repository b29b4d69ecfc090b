"""docker-compose.yml as operators run it: one policy edge (only the gateway and OTLP/gRPC ingest
published), the ledger key as a Compose secret, pinned images, and the observability stack wired
to every process."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from aos_common.services import GATEWAY, SERVICES

from .conftest import REPO

OBSERVABILITY_UIS = {"prometheus": "127.0.0.1:9090:9090", "grafana": "127.0.0.1:3000:3000"}
DASHBOARD_METRICS = (
    "aos_cost_recorded_cents_total",
    "aos_tokens_total",
    "aos_spans_ingested_total",
    "aos_steps_ingested_total",
    "aos_http_requests_total",
    "aos_http_request_duration_seconds_bucket",
    "aos_outbox_pending_messages",
    "aos_outbox_oldest_pending_age_seconds",
    "aos_ledger_entries_total",
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "docker-compose.yml").read_text()))


def _resolved_default(value: str) -> str:
    """`${VAR:-default}` as Compose resolves it when VAR is unset (nested once)."""
    inner = re.sub(r"\$\{[A-Z_]+:-([^${}]*)\}", r"\1", value)
    return re.sub(r"\$\{[A-Z_]+:-([^{}]*)\}", r"\1", inner)


def test_only_the_gateway_and_otlp_grpc_ingest_are_published(compose: dict[str, Any]) -> None:
    published = {
        name: service.get("ports", [])
        for name, service in compose["services"].items()
        if service.get("ports") and "traefik" not in service.get("profiles", [])
    }
    assert published.pop("gateway") == ["8080:8080"]
    assert published.pop("traces") == ["4317:4317"]
    assert published == {name: [port] for name, port in OBSERVABILITY_UIS.items()}


def test_images_are_pinned_and_never_latest(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = _resolved_default(service["image"])
        repository, _, tag = image.rpartition(":")
        assert repository and re.match(r"v?\d+\.\d+", tag), (name, image)


def test_the_ledger_signs_with_the_key_from_a_compose_secret(compose: dict[str, Any]) -> None:
    ledger = compose["services"]["audit-ledger"]
    assert ledger["secrets"] == ["ledger-signing-key"]
    assert ledger["environment"]["AOS_LEDGER_SIGNING_KEY_FILE"] == "/run/secrets/ledger-signing-key"
    default = _resolved_default(compose["secrets"]["ledger-signing-key"]["file"])
    assert (REPO / default).is_file()
    others = [s for n, s in compose["services"].items() if n != "audit-ledger"]
    assert not any("secrets" in service for service in others)


def test_every_process_exports_telemetry_and_is_scraped(compose: dict[str, Any]) -> None:
    prometheus = yaml.safe_load((REPO / "compose" / "prometheus.yml").read_text())
    targets = {
        target
        for job in prometheus["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    collector = yaml.safe_load((REPO / "compose" / "otel-collector.yml").read_text())
    assert set(collector["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    for spec in (*SERVICES, GATEWAY):
        environment = compose["services"][spec.name]["environment"]
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert f"{spec.name}:{spec.port}" in targets


def test_each_service_can_have_its_own_database(compose: dict[str, Any]) -> None:
    for spec in SERVICES:
        variable = spec.name.upper().replace("-", "_") + "_DATABASE_URL"
        value = compose["services"][spec.name]["environment"]["DATABASE_URL"]
        assert value.startswith("${" + variable + ":-postgresql://")


def test_the_grafana_dashboard_charts_the_operators_figures() -> None:
    dashboard = json.loads((REPO / "compose/grafana/dashboards/aos.json").read_text())
    expressions = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for metric in DASHBOARD_METRICS:
        assert metric in expressions
    provider = yaml.safe_load(
        (REPO / "compose/grafana/provisioning/dashboards/aos.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_real_traefik_in_compose_fronts_the_gateway_like_the_ingress(
    compose: dict[str, Any],
) -> None:
    edge = yaml.safe_load((REPO / "compose" / "traefik-edge.yml").read_text())["http"]
    dynamic = yaml.safe_load((REPO / "gateway" / "dynamic.yml").read_text())["http"]
    assert edge["routers"]["gateway"]["rule"] == "PathPrefix(`/`)"
    assert edge["routers"]["direct-ingest"]["rule"] == dynamic["routers"]["traces-ingest"]["rule"]
    servers = {
        name: [s["url"] for s in service["loadBalancer"]["servers"]]
        for name, service in edge["services"].items()
    }
    assert servers == {"gateway": ["http://gateway:8080"], "traces": ["http://traces:8002"]}
    assert compose["services"]["traefik"]["image"] == "traefik:v3.3.5"


def test_the_traefik_edge_file_validates_against_the_traefik_v3_schema(
    official_schemas_dir: Path,
) -> None:
    import jsonschema

    schema = json.loads((official_schemas_dir / "traefik-v3-file-provider.json").read_text())
    jsonschema.validate(yaml.safe_load((REPO / "compose" / "traefik-edge.yml").read_text()), schema)
