"""ServiceSettings refuse default secrets outside development."""

from __future__ import annotations

import pytest

from aos_common.settings import ServiceSettings


def test_production_refuses_default_secrets() -> None:
    with pytest.raises(ValueError, match="AOS_INTERNAL_SECRET"):
        ServiceSettings(environment="production")


def test_operator_key_must_have_prefix_and_length() -> None:
    with pytest.raises(ValueError, match="aos_op_"):
        ServiceSettings(operator_key="short")
