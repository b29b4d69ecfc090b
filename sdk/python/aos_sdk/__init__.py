"""AOS Python SDK: OpenTelemetry in one line, `@observe` for runs, steps and tools; and a client
for runs with locally hashed traces, cost records, batching, safe retries.

import aos_sdk

aos_sdk.configure()            # AOS_API_KEY, AOS_ENDPOINT
aos_sdk.instrument()           # installed provider instrumentations (openai, anthropic, ...)

@aos_sdk.observe(kind="run")
def agent(question: str) -> str: ...

from aos_sdk import AOSClient

with AOSClient(api_key, "http://localhost:8080") as client:
    with client.run("research-agent", "Summarise Q3") as run:
        with run.step("search", {"q": "Q3 revenue"}) as step:
            step.output = {"hits": 3}
    print(run.root_hash, run.hash_verified)
"""

from aos_sdk.aio import AsyncAOSClient, AsyncCostBatcher, AsyncRun
from aos_sdk.client import AOSClient, CostBatcher, Run
from aos_sdk.errors import (
    AOSConnectionError,
    AOSError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from aos_sdk.hashing import hash_data, root_hash, step_hash, trace_root_hash
from aos_sdk.instrument import instrument
from aos_sdk.observe import ObservedSpan, current_span, observe
from aos_sdk.recording import StepRecord
from aos_sdk.runs import HashMismatchWarning
from aos_sdk.steps import TraceRecorder
from aos_sdk.telemetry import AOSTelemetry, configure
from aos_sdk.types import BatchItem, CostRecorded, RunInfo, Tenant, Trace, TraceStored

__version__ = "0.1.0"

__all__ = [
    "AOSClient",
    "AOSConnectionError",
    "AOSError",
    "AOSTelemetry",
    "AsyncAOSClient",
    "AsyncCostBatcher",
    "AsyncRun",
    "AuthenticationError",
    "BadRequestError",
    "BatchItem",
    "BudgetExceededError",
    "ConflictError",
    "CostBatcher",
    "CostRecorded",
    "HashMismatchWarning",
    "NotFoundError",
    "ObservedSpan",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "Run",
    "RunInfo",
    "ServerError",
    "StepRecord",
    "Tenant",
    "Trace",
    "TraceRecorder",
    "TraceStored",
    "ValidationError",
    "configure",
    "current_span",
    "hash_data",
    "instrument",
    "observe",
    "root_hash",
    "step_hash",
    "trace_root_hash",
]
