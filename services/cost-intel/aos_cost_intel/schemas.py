"""Pydantic types shared by every cost-intel schema: exact money in and out, safe strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer

from aos_cost_intel.domain.money import plain

MAX_CENTS = Decimal("1e15")

Cents = Annotated[Decimal, PlainSerializer(plain, return_type=str, when_used="json")]
"""Exact cents, written as a plain decimal string ("0.0000005", "1500")."""

CentsIn = Annotated[Decimal, Field(ge=0, le=MAX_CENTS, decimal_places=20)]
"""Cents a client sends: a number or decimal string, >= 0, at most 20 decimal places."""

TokenCount = Annotated[int, Field(ge=0, le=10**12)]


NO_NUL = r"^[^\x00]*$"
"""Postgres text cannot hold NUL characters; refusing them keeps bad input a 422, not a 500."""

Identifier = Annotated[str, Field(min_length=1, max_length=256, pattern=NO_NUL)]
ModelName = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
TagName = Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]
DisplayName = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
Description = Annotated[str, Field(max_length=2000, pattern=NO_NUL)]
