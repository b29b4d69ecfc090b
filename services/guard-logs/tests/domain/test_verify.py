import io
import zipfile
from pathlib import Path

import orjson
from typer.testing import CliRunner

from aos_guard_logs.cli import bundle_app
from aos_guard_logs.domain.bundle import write_zip
from aos_proofs.bundle import BUNDLE_FILES, MANIFEST, verify_bundle

from ..bundles import genuine_bundle


def members(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    return write_zip(files, generated_at="2026-01-02T00:00:00+00:00")


def rehash_manifest(files: dict[str, bytes]) -> dict[str, bytes]:
    """What a careful forger does: fix the manifest after editing a file."""
    import hashlib

    manifest = orjson.loads(files[MANIFEST])
    for name in BUNDLE_FILES:
        manifest["files"][name]["sha256"] = hashlib.sha256(files[name]).hexdigest()
    return {**files, MANIFEST: orjson.dumps(manifest)}


def test_a_genuine_bundle_verifies() -> None:
    bundle, _ = genuine_bundle()
    report = verify_bundle(io.BytesIO(bundle))
    assert report.ok, report.failures
    assert report.summary["audit_entries"] == 3


def test_the_bundle_holds_the_files_api_md_names() -> None:
    bundle, _ = genuine_bundle()
    assert set(members(bundle)) == {MANIFEST, *BUNDLE_FILES}


def test_a_genuine_bundle_verifies_against_the_published_key() -> None:
    bundle, public_key = genuine_bundle()
    assert verify_bundle(io.BytesIO(bundle), public_key=public_key).ok


def test_another_key_fails_the_signature() -> None:
    bundle, _ = genuine_bundle()
    _, other_key = genuine_bundle()
    report = verify_bundle(io.BytesIO(bundle), public_key=other_key)
    assert "audit.tree_head.signature" in {check.name for check in report.failures}


def test_an_edited_file_fails_its_manifest_hash() -> None:
    bundle, _ = genuine_bundle()
    files = members(bundle)
    files["costs.json"] = files["costs.json"].replace(b"3.5", b"0.5")
    report = verify_bundle(io.BytesIO(rezip(files)))
    assert "sha256:costs.json" in {check.name for check in report.failures}


def test_an_edited_audit_entry_fails_even_with_a_fixed_manifest() -> None:
    bundle, _ = genuine_bundle()
    files = members(bundle)
    audit = orjson.loads(files["audit.json"])
    audit["entries"][0]["action_reason"] = "nothing happened"
    files["audit.json"] = orjson.dumps(audit)
    report = verify_bundle(io.BytesIO(rezip(rehash_manifest(files))))
    assert not report.ok
    assert any(check.name.endswith(".entry_hash") for check in report.failures)


def test_a_rehashed_forged_entry_fails_its_inclusion_proof() -> None:
    from aos_proofs import ledger

    bundle, _ = genuine_bundle()
    files = members(bundle)
    audit = orjson.loads(files["audit.json"])
    entry = audit["entries"][0]
    entry["action_reason"] = "nothing happened"
    entry["entry_hash"] = ledger.entry_hash(entry)
    files["audit.json"] = orjson.dumps(audit)
    report = verify_bundle(io.BytesIO(rezip(rehash_manifest(files))))
    assert any(check.name.endswith(".inclusion") for check in report.failures)


def test_an_edited_step_fails_the_trace_root_hash() -> None:
    bundle, _ = genuine_bundle()
    files = members(bundle)
    files["steps.ndjson"] = files["steps.ndjson"].replace(b'"failure"', b'"success"')
    report = verify_bundle(io.BytesIO(rezip(rehash_manifest(files))))
    assert "trace.root_hash" in {check.name for check in report.failures}


def test_a_removed_entry_proof_fails() -> None:
    bundle, _ = genuine_bundle()
    files = members(bundle)
    audit = orjson.loads(files["audit.json"])
    del audit["entries"][1]["proof"]
    files["audit.json"] = orjson.dumps(audit)
    report = verify_bundle(io.BytesIO(rezip(rehash_manifest(files))))
    assert not report.ok


def test_an_extra_file_is_reported() -> None:
    bundle, _ = genuine_bundle()
    files = {**members(bundle), "notes.txt": b"hi"}
    report = verify_bundle(io.BytesIO(rezip(files)))
    assert "manifest.unlisted" in {check.name for check in report.failures}


def test_a_file_that_is_not_a_zip_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(b"not a zip")
    report = verify_bundle(path)
    assert not report.ok
    assert report.failures[0].name == "bundle.readable"


def test_cli_verify_exits_zero_for_a_genuine_bundle(tmp_path: Path) -> None:
    bundle, _ = genuine_bundle()
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle)
    result = CliRunner().invoke(bundle_app, ["verify", str(path)])
    assert result.exit_code == 0, result.output
    assert "VALID" in result.output


def test_cli_verify_exits_one_for_a_tampered_bundle(tmp_path: Path) -> None:
    bundle, _ = genuine_bundle()
    files = members(bundle)
    files["trace.json"] = files["trace.json"].replace(b"agent-1", b"agent-2")
    path = tmp_path / "bundle.zip"
    path.write_bytes(rezip(files))
    result = CliRunner().invoke(bundle_app, ["verify", str(path)])
    assert result.exit_code == 1
    assert "INVALID" in result.output
