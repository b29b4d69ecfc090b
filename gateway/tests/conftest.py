"""Shared fixtures for the gateway tests: where the repository and the shared contract live."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
DYNAMIC_YML = REPO_ROOT / "gateway" / "dynamic.yml"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    assert SHARED.is_dir(), f"the shared contract must be checked out beside the repo at {SHARED}"
    return SHARED
