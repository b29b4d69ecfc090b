"""Business errors of the ledger, each carrying its status and exact text."""

from __future__ import annotations

from aos_common.errors import BadRequest, NotFound, ProblemError


class EntryNotFound(NotFound):
    def __init__(self, seq: int) -> None:
        super().__init__(f"Audit entry with seq {seq} not found")


class TreeSizeTooLarge(BadRequest):
    def __init__(self, name: str, requested: int, size: int) -> None:
        super().__init__(f"{name} {requested} exceeds the ledger size {size}")


class SeqOutsideTree(BadRequest):
    def __init__(self, seq: int, tree_size: int) -> None:
        super().__init__(f"seq {seq} is not in a tree of size {tree_size}")


class InvalidRange(BadRequest):
    def __init__(self, low: str, high: str) -> None:
        super().__init__(f"{low} must not be greater than {high}")


class LedgerStorageInconsistent(ProblemError):
    """A stored Merkle node is missing: the database was altered outside the service."""

    status = 500

    def __init__(self, level: int, index: int) -> None:
        super().__init__(
            f"Merkle node (level {level}, index {index}) is missing from the ledger; "
            "run GET /api/v1/audit/verify"
        )
