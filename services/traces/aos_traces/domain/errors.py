"""Errors of the pure trace logic, mapped to problem responses at the HTTP edge."""

from __future__ import annotations


class TraceInputError(ValueError):
    """A trace (or one step of it) the service cannot store as sent; the text is the 4xx detail."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
