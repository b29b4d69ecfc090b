"""One body limit: the gateway's configured limits are aos_common's, which every service port applies."""

from __future__ import annotations

from pathlib import Path

import yaml

from aos_common.input_limits import INGEST_MAX_BODY_BYTES, MAX_BODY_BYTES
from aos_traces.main import INGEST_BODY_LIMITS

DYNAMIC = Path(__file__).resolve().parents[2] / "gateway" / "dynamic.yml"


def gateway_middlewares() -> dict:
    return yaml.safe_load(DYNAMIC.read_text())["http"]["middlewares"]


def test_the_gateways_body_limit_is_the_service_ports_limit() -> None:
    limit = gateway_middlewares()["body-limit"]["buffering"]["maxRequestBodyBytes"]
    assert limit == MAX_BODY_BYTES


def test_the_gateways_ingest_limit_is_the_traces_ingest_limit() -> None:
    limit = gateway_middlewares()["body-limit-ingest"]["buffering"]["maxRequestBodyBytes"]
    assert limit == INGEST_MAX_BODY_BYTES
    assert set(INGEST_BODY_LIMITS.values()) == {INGEST_MAX_BODY_BYTES}


def test_the_ingest_routes_are_the_ones_the_gateway_routes_to_the_ingest_limit() -> None:
    routers = yaml.safe_load(DYNAMIC.read_text())["http"]["routers"]
    ingest_rules = [
        router["rule"] for router in routers.values() if "api-ingest" in router["middlewares"]
    ]
    for path in INGEST_BODY_LIMITS:
        assert any(f"Path(`{path}`)" in rule for rule in ingest_rules), path
