"""The step context manager; steps do no I/O, so one class serves sync and async runs."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from aos_sdk.recording import RunRecord, StepRecord, new_run_id


class StepContext:
    """`with run.step(skill, params) as step:` (or `async with`): times the block, records the
    status (failure when it raises; the exception still propagates) and the output hash of
    whatever is assigned to `step.output`."""

    def __init__(self, record: StepRecord) -> None:
        self.record = record

    def __enter__(self) -> StepRecord:
        self.record.start()
        return self.record

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.record.finish(exc)

    async def __aenter__(self) -> StepRecord:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class TraceRecorder:
    """Records a run's steps into a trace document without talking to any server: for runs that
    happened elsewhere and are sent later in bulk with `client.post_traces_batch(...)`.

        with TraceRecorder(tenant_id, "support-triage", "ticket 1") as rec:
            with rec.step("classify", {"ticket": 1}) as step:
                step.output = "refund"
        client.post_traces_batch([rec.document()])
    """

    def __init__(
        self,
        tenant_id: str,
        worker_id: str,
        task: str,
        *,
        run_id: str | None = None,
        seed: int = 42,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.record = RunRecord(
            worker_id=worker_id,
            task=task,
            run_id=run_id or new_run_id(),
            tenant_id=tenant_id,
            seed=seed,
            metadata=dict(metadata or {}),
        )

    def __enter__(self) -> TraceRecorder:
        self.record.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.record.finish(exc, aborted=exc is not None and not isinstance(exc, Exception))

    def step(self, skill: str, params: Any = None, **kw: Any) -> StepContext:
        return StepContext(self.record.new_step(skill, params, **kw))

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def root_hash(self) -> str:
        return self.record.root_hash

    def document(self) -> dict[str, Any]:
        return self.record.trace_document()
