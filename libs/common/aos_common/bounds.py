"""Integer bounds for schemas and query parameters: what the column behind a field can hold.

A field without an upper bound lets a client send a number the database refuses (an `integer`
column holds 32 bits) or that Python and PostgreSQL disagree on; bound it at the edge with these,
so the refusal is a 422 naming the field rather than an error from deep inside a query.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
# The deepest page offset any list accepts (a page that far is never a real request).
MAX_OFFSET = 10**9

OffsetQuery = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description=f"Rows to skip (at most {MAX_OFFSET})")
]
SequenceQuery = Annotated[int, Query(ge=1, le=INT64_MAX)]
OptionalSequenceQuery = Annotated[int | None, Query(ge=1, le=INT64_MAX)]
