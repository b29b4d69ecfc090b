"""The evidence bundle: one run's trace, steps, integrity report, costs and audit entries (each with
an inclusion proof against a signed tree head) in a zip an auditor can check offline.

Pure: the service gathers the documents from the traces, audit-ledger and cost-intel services and
hands them here; `aos_proofs.bundle` (and `aos-verify bundle`) checks the result with no network.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from aos_proofs.bundle import (
    AUDIT,
    BUNDLE_KIND,
    BUNDLE_VERSION,
    COSTS,
    INTEGRITY,
    MANIFEST,
    STEPS,
    TRACE,
)
from aos_proofs.zip_layout import zip_member


@dataclass(frozen=True)
class BundleInputs:
    """What a bundle is made of; `trace` is the full trace document including its steps."""

    tenant_id: str
    log_id: str
    trace: Mapping[str, Any]
    integrity: Mapping[str, Any]
    audit: Mapping[str, Any]
    costs: Mapping[str, Any]
    generated_at: str


def json_bytes(document: Any) -> bytes:
    """Stable, readable JSON: sorted keys, two-space indent, trailing newline."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def steps_ndjson(steps: Sequence[Mapping[str, Any]]) -> bytes:
    ordered = sorted(steps, key=lambda step: int(step.get("step_index", 0)))
    return b"".join(orjson.dumps(step, option=orjson.OPT_SORT_KEYS) + b"\n" for step in ordered)


def bundle_files(inputs: BundleInputs) -> dict[str, bytes]:
    """The files of a bundle except the manifest; the trace's steps live in steps.ndjson only."""
    trace = {key: value for key, value in inputs.trace.items() if key != "steps"}
    return {
        TRACE: json_bytes(trace),
        STEPS: steps_ndjson(list(inputs.trace.get("steps") or [])),
        INTEGRITY: json_bytes(inputs.integrity),
        AUDIT: json_bytes(inputs.audit),
        COSTS: json_bytes(inputs.costs),
    }


def manifest_for(inputs: BundleInputs, files: Mapping[str, bytes]) -> dict[str, Any]:
    return {
        "kind": BUNDLE_KIND,
        "version": BUNDLE_VERSION,
        "tenant_id": inputs.tenant_id,
        "log_id": inputs.log_id,
        "run_id": inputs.trace.get("run_id"),
        "trace_id": inputs.trace.get("trace_id"),
        "generated_at": inputs.generated_at,
        "hash_algorithm": "sha256",
        "files": {
            name: {"sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
            for name, content in sorted(files.items())
        },
    }


def write_zip(files: Mapping[str, bytes], *, generated_at: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(zip_member(name, generated_at), content)
    return buffer.getvalue()


def build_bundle(inputs: BundleInputs) -> bytes:
    """The zip bytes: manifest.json first, then the files it hashes."""
    files = bundle_files(inputs)
    manifest = json_bytes(manifest_for(inputs, files))
    return write_zip({MANIFEST: manifest, **files}, generated_at=inputs.generated_at)


def bundle_filename(log_id: str) -> str:
    safe = "".join(char if char.isalnum() or char in "-_" else "_" for char in log_id)
    return f"evidence_{safe}.zip"
