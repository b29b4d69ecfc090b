"""docker-compose.yml is valid Compose and describes the whole platform."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from aos_common.services import GATEWAY, SERVICES

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


def test_compose_file_validates_against_the_compose_spec(
    compose: dict[str, Any], official_schemas_dir: Path
) -> None:
    schema_path = official_schemas_dir / "compose-spec.json"
    if not schema_path.exists():
        pytest.skip(f"compose-spec.json is not in AOS_SCHEMAS_DIR ({official_schemas_dir})")
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(compose, schema)


def test_compose_runs_postgres_16_redis_7_every_service_and_the_gateway(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for spec in (*SERVICES, GATEWAY):
        assert services[spec.name]["build"]["args"]["SERVICE"] == spec.name
        assert services[spec.name]["environment"]["AOS_PORT"] == str(spec.port)


def test_every_service_waits_for_migrations_and_checks_its_readiness(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["aos", "migrate"]
    for spec in (*SERVICES, GATEWAY):
        service = services[spec.name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert f":{spec.port}/readyz" in " ".join(service["healthcheck"]["test"])


def test_one_dockerfile_takes_the_service_as_a_build_argument() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "ARG SERVICE" in dockerfile
