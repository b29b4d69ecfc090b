"""AOS Python SDK: runs with locally hashed traces, cost records, batching, safe retries.

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
from aos_sdk.recording import StepRecord
from aos_sdk.runs import HashMismatchWarning
from aos_sdk.steps import TraceRecorder

__version__ = "0.1.0"

__all__ = [
    "AOSClient",
    "AOSConnectionError",
    "AOSError",
    "AsyncAOSClient",
    "AsyncCostBatcher",
    "AsyncRun",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ConflictError",
    "CostBatcher",
    "HashMismatchWarning",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "Run",
    "ServerError",
    "StepRecord",
    "TraceRecorder",
    "ValidationError",
    "hash_data",
    "root_hash",
    "step_hash",
    "trace_root_hash",
]
