"""The evidence bundle's files and their offline check (`aos-verify bundle FILE.zip`).

Checks, with no network access:
- the manifest lists exactly the files in the archive and each file's SHA-256 matches;
- every audit entry's `entry_hash` recomputes from its fields (RFC 8785), consecutive entries
  chain through `prev_hash`, and each entry's inclusion proof leads to the tree head's root;
- the tree head's Ed25519 signature over {tenant_id, tree_size, root_hash, timestamp} is valid,
  with the key in the bundle or, better, a key the auditor obtained independently (`public_key`);
- the trace's schema-1.1 `root_hash` recomputes from trace.json and steps.ndjson;
- the cost records add up to the stated total.

The manifest alone proves nothing against someone who rewrites a file and its hash; the signed
tree head and the trace root hash are what an altered bundle cannot reproduce.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from aos_proofs import ledger, merkle
from aos_proofs.trace_hash import compute_root_hash
from aos_proofs.zip_layout import layout_problems

BUNDLE_KIND = "aos.evidence-bundle"
BUNDLE_VERSION = 1
MANIFEST = "manifest.json"
TRACE = "trace.json"
STEPS = "steps.ndjson"
INTEGRITY = "integrity.json"
AUDIT = "audit.json"
COSTS = "costs.json"
BUNDLE_FILES = (TRACE, STEPS, INTEGRITY, AUDIT, COSTS)

MAX_MEMBER_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class BundleReport:
    source: str
    checks: list[Check] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ok": self.ok,
            "summary": self.summary,
            "checks": [check.__dict__ for check in self.checks],
        }


class BundleUnreadable(Exception):
    pass


def _read_members(archive: zipfile.ZipFile) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        if info.file_size > MAX_MEMBER_BYTES:
            raise BundleUnreadable(f"{info.filename} is larger than {MAX_MEMBER_BYTES} bytes")
        members[info.filename] = archive.read(info)
    return members


def _json(members: Mapping[str, bytes], name: str) -> Any:
    try:
        return json.loads(members[name])
    except KeyError:
        raise BundleUnreadable(f"{name} is missing") from None
    except ValueError as error:
        raise BundleUnreadable(f"{name} is not valid JSON: {error}") from None


def _check_manifest(
    report: BundleReport, manifest: Mapping[str, Any], members: Mapping[str, bytes]
) -> None:
    listed = manifest.get("files")
    if not isinstance(listed, Mapping):
        report.add("manifest", False, "manifest.json has no 'files' map")
        return
    present = set(members) - {MANIFEST}
    missing = sorted(set(BUNDLE_FILES) - set(listed))
    report.add(
        "manifest.complete",
        not missing,
        f"missing from manifest: {', '.join(missing)}"
        if missing
        else "every bundle file is listed",
    )
    unlisted = sorted(present - set(listed))
    report.add(
        "manifest.unlisted",
        not unlisted,
        f"files not in the manifest: {', '.join(unlisted)}" if unlisted else "no unlisted files",
    )
    for name, meta in sorted(listed.items()):
        if name not in members:
            report.add(f"sha256:{name}", False, "listed in the manifest but absent")
            continue
        expected = str(meta.get("sha256", "")) if isinstance(meta, Mapping) else ""
        actual = hashlib.sha256(members[name]).hexdigest()
        report.add(
            f"sha256:{name}",
            actual == expected,
            "matches" if actual == expected else f"expected {expected}, found {actual}",
        )


def _check_audit(
    report: BundleReport, audit: Mapping[str, Any], tenant_id: str, public_key: str | None
) -> None:
    head = audit.get("tree_head")
    if not isinstance(head, Mapping):
        report.add("audit.tree_head", False, "audit.json has no tree_head")
        return
    key = public_key or str(head.get("public_key") or "")
    signed = ledger.verify_tree_head_signature(head, tenant_id, key)
    source = "the given public key" if public_key else "the bundle's public key"
    report.add(
        "audit.tree_head.signature",
        signed,
        f"tree head of size {head.get('tree_size')} signed, checked with {source}"
        if signed
        else f"Ed25519 signature does not verify with {source}",
    )
    if public_key and head.get("public_key") and head.get("public_key") != public_key:
        report.add("audit.tree_head.key", False, "the bundle names a different public key")
    entries = audit.get("entries")
    if not isinstance(entries, Sequence):
        report.add("audit.entries", False, "audit.json has no entries list")
        return
    report.summary["audit_entries"] = len(entries)
    previous: Mapping[str, Any] | None = None
    for entry in entries:
        _check_entry(report, entry, head, tenant_id, previous)
        previous = entry


def _check_entry(
    report: BundleReport,
    entry: Any,
    head: Mapping[str, Any],
    tenant_id: str,
    previous: Mapping[str, Any] | None,
) -> None:
    if not isinstance(entry, Mapping):
        report.add("audit.entry", False, "an entry is not an object")
        return
    label = f"audit.entry[{entry.get('seq')}]"
    recomputed = ledger.entry_hash(entry)
    report.add(
        f"{label}.entry_hash",
        recomputed == entry.get("entry_hash"),
        "recomputes"
        if recomputed == entry.get("entry_hash")
        else f"fields hash to {recomputed}, entry says {entry.get('entry_hash')}",
    )
    report.add(
        f"{label}.tenant",
        entry.get("tenant_id") == tenant_id,
        "belongs to the bundle's tenant"
        if entry.get("tenant_id") == tenant_id
        else f"belongs to tenant {entry.get('tenant_id')}",
    )
    if previous is not None and _int(entry.get("seq")) == _int(previous.get("seq")) + 1:
        linked = entry.get("prev_hash") == previous.get("entry_hash")
        report.add(
            f"{label}.prev_hash",
            linked,
            "chains to the previous entry"
            if linked
            else f"does not chain to entry {previous.get('seq')}",
        )
    proof = entry.get("proof")
    if not isinstance(proof, Mapping):
        report.add(f"{label}.proof", False, "no inclusion proof")
        return
    leaf = merkle.leaf_hash(recomputed)
    index = _int(proof.get("leaf_index"))
    consistent = (
        index == _int(entry.get("seq")) - 1
        and proof.get("leaf_hash") == leaf
        and _int(proof.get("tree_size")) == _int(head.get("tree_size"))
    )
    included = consistent and merkle.verify_inclusion(
        leaf,
        index,
        _int(head.get("tree_size")),
        list(proof.get("audit_path") or []),
        str(head.get("root_hash")),
    )
    report.add(
        f"{label}.inclusion",
        included,
        f"included at leaf {index} of the signed tree"
        if included
        else "inclusion proof does not lead to the signed root",
    )


def _check_trace(
    report: BundleReport, trace: Mapping[str, Any], steps_bytes: bytes, tenant_id: str
) -> None:
    try:
        steps = [json.loads(line) for line in steps_bytes.splitlines() if line.strip()]
    except ValueError as error:
        report.add("trace.steps", False, f"steps.ndjson is not valid NDJSON: {error}")
        return
    report.summary["steps"] = len(steps)
    try:
        recomputed = compute_root_hash(
            int(trace.get("seed", 42)),
            trace.get("frozen_timestamp"),
            str(trace.get("tenant_id") or tenant_id),
            steps,
        )
    except (KeyError, TypeError, ValueError) as error:
        report.add("trace.root_hash", False, f"cannot recompute: {error}")
        return
    matches = recomputed == trace.get("root_hash")
    report.add(
        "trace.root_hash",
        matches,
        "recomputes from the steps (schema 1.1)"
        if matches
        else f"steps hash to {recomputed}, trace says {trace.get('root_hash')}",
    )


def _check_costs(report: BundleReport, costs: Mapping[str, Any]) -> None:
    try:
        total = sum(
            (Decimal(str(record.get("cost_cents", 0))) for record in costs.get("records") or []),
            Decimal(0),
        )
        stated = Decimal(str(costs.get("total_cost_cents", 0)))
    except (InvalidOperation, AttributeError, TypeError):
        report.add("costs.total", False, "cost records are not numbers")
        return
    report.summary["cost_records"] = len(costs.get("records") or [])
    report.add(
        "costs.total",
        total == stated,
        f"records sum to {stated}"
        if total == stated
        else f"records sum to {total}, total says {stated}",
    )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def verify_bundle(source: str | Path | IO[bytes], *, public_key: str | None = None) -> BundleReport:
    """Check a bundle; never raises on a bad bundle, the report says what failed."""
    report = BundleReport(source=str(source) if isinstance(source, str | Path) else "<stream>")
    try:
        data = source.read() if hasattr(source, "read") else Path(source).read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = _read_members(archive)
            manifest = _json(members, MANIFEST)
            if isinstance(manifest, Mapping):
                problems = layout_problems(data, archive, str(manifest.get("generated_at") or ""))
                report.add(
                    "bundle.layout",
                    not problems,
                    "; ".join(problems)
                    if problems
                    else "every byte outside the files is as written",
                )
        if not isinstance(manifest, Mapping):
            raise BundleUnreadable("manifest.json is not an object")
        tenant_id = str(manifest.get("tenant_id") or "")
        report.summary.update(
            {
                key: manifest.get(key)
                for key in ("tenant_id", "log_id", "run_id", "trace_id", "generated_at")
            }
        )
        _check_manifest(report, manifest, members)
        audit = _json(members, AUDIT)
        _check_audit(report, audit, tenant_id, public_key)
        trace = _json(members, TRACE)
        _check_trace(report, trace, members.get(STEPS, b""), tenant_id)
        _check_costs(report, _json(members, COSTS))
    except (
        zipfile.BadZipFile,
        BundleUnreadable,
        OSError,
        zlib.error,
        EOFError,
        ValueError,
    ) as error:
        report.add(
            "bundle.readable", False, f"the archive is damaged: {error or type(error).__name__}"
        )
    except (NotImplementedError, RuntimeError) as error:  # unknown compression, encryption
        report.add("bundle.readable", False, f"the archive cannot be read: {error}")
    return report
