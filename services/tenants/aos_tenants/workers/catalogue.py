"""The worker catalogue: data shipped inside the package, validated and loaded at start."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, Field

WorkerStatus = Literal["active", "beta", "deprecated"]


class CatalogueWorker(BaseModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")
    name: str
    description: str
    version: str
    status: WorkerStatus
    moats: list[str]
    tokens_per_run_estimate: int = Field(ge=0)
    cost_per_run_cents: int = Field(ge=0)
    is_public: bool = True
    default_config: dict[str, Any] = Field(default_factory=dict)
    input_schema: dict[str, Any] = Field(default_factory=dict)
    output_schema: dict[str, Any] = Field(default_factory=dict)


def load_catalogue(text: str | None = None) -> list[CatalogueWorker]:
    """The shipped catalogue (or `text`, for tests); a malformed file fails start-up loudly."""
    if text is None:
        text = resources.files("aos_tenants").joinpath("data/workers.json").read_text("utf-8")
    document = json.loads(text)
    workers = [CatalogueWorker.model_validate(item) for item in document["workers"]]
    ids = [worker.id for worker in workers]
    if len(ids) != len(set(ids)):
        raise ValueError("worker catalogue has duplicate ids")
    return workers
