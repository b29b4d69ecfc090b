"""The shipped worker catalogue."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from aos_tenants.workers.catalogue import load_catalogue


def test_shipped_catalogue_loads_with_the_fields_api_md_lists() -> None:
    workers = load_catalogue()
    assert len(workers) >= 5
    assert {worker.status for worker in workers} <= {"active", "beta", "deprecated"}
    assert any(not worker.is_public for worker in workers)


def test_duplicate_ids_are_refused() -> None:
    worker = load_catalogue()[0].model_dump()
    with pytest.raises(ValueError, match="duplicate"):
        load_catalogue(json.dumps({"workers": [worker, worker]}))


def test_malformed_worker_is_refused() -> None:
    with pytest.raises(ValidationError):
        load_catalogue(json.dumps({"workers": [{"id": "x"}]}))
