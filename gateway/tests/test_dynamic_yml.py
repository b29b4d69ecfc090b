"""The shipped document is valid for real Traefik v3: checked against the file-provider schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from aos_gateway.config import parse_document

DYNAMIC_YML = Path(__file__).resolve().parents[1] / "dynamic.yml"


@pytest.fixture(scope="module")
def validator(official_schemas_dir: Path) -> jsonschema.Draft7Validator:
    schema = json.loads((official_schemas_dir / "traefik-v3-file-provider.json").read_text())
    return jsonschema.Draft7Validator(schema)


def test_rendered_document_validates_against_the_traefik_schema(
    validator: jsonschema.Draft7Validator,
) -> None:
    document = parse_document(DYNAMIC_YML.read_text(), environ={})
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_unrendered_document_validates_too(validator: jsonschema.Draft7Validator) -> None:
    """Traefik renders the template itself; the raw file must already be schema-shaped."""
    document = yaml.safe_load(DYNAMIC_YML.read_text())
    assert not list(validator.iter_errors(document))


def test_schema_catches_a_broken_document(validator: jsonschema.Draft7Validator) -> None:
    document = parse_document(DYNAMIC_YML.read_text(), environ={})
    document["http"]["routers"]["tenants"]["budget"] = True
    assert list(validator.iter_errors(document))
