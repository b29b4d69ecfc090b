"""What the sync and async run context managers share once the trace is built."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from aos_sdk.recording import RunRecord

log = logging.getLogger("aos_sdk")


class HashMismatchWarning(UserWarning):
    """The server computed a different root hash than the SDK: the trace is stored unverified."""


class RunFinalizer:
    def __init__(self, record: RunRecord) -> None:
        self.record = record
        self.finalize_errors: list[Exception] = []

    @property
    def id(self) -> str:
        return self.record.run_id

    @property
    def trace_id(self) -> str:
        return self.record.trace_id

    @property
    def status(self) -> str | None:
        return self.record.status

    @property
    def root_hash(self) -> str:
        """The schema-1.1 root hash computed locally from the steps recorded so far."""
        return self.record.root_hash

    @property
    def server_root_hash(self) -> str | None:
        return (self.record.trace_result or {}).get("root_hash")

    @property
    def hash_verified(self) -> bool | None:
        """Whether the server's root hash equals the local one (None before the trace is posted)."""
        server = self.server_root_hash
        return None if server is None else server == self.root_hash

    def trace(self) -> dict[str, Any]:
        return self.record.trace_document()

    def accept_trace_result(self, result: Any) -> None:
        self.record.trace_result = result if isinstance(result, dict) else {"result": result}
        if self.hash_verified is False:
            warnings.warn(
                f"run {self.id}: server root_hash {self.server_root_hash} differs from the "
                f"local {self.root_hash}",
                HashMismatchWarning,
                stacklevel=3,
            )

    def raise_finalize_errors(self, exc: BaseException | None) -> None:
        """Finishing errors surface, unless the block already raised: that error wins and these
        are logged (and kept in `finalize_errors`) rather than masking it."""
        if not self.finalize_errors:
            return
        if exc is not None:
            for err in self.finalize_errors:
                log.warning("run %s: could not finish cleanly: %r", self.id, err)
            return
        raise self.finalize_errors[0]
