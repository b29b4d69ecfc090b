"""Fixtures for the gateway tests: where the repository lives."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO_ROOT = Path(__file__).resolve().parents[2]
DYNAMIC_YML = REPO_ROOT / "gateway" / "dynamic.yml"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
