"""`aos-verify` checks what the running platform produced with no platform: an evidence bundle
and a whole ledger export verify, and one changed byte anywhere is reported with what failed."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from aos_audit_ledger.cli import fetch_ledger_export
from aos_cli.testing import RunningPlatform
from aos_proofs import cli
from aos_proofs.bundle import verify_bundle
from aos_proofs.zip_layout import zip_member


def _aos_verify(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed command's entry point in a fresh interpreter: nothing of the platform loaded."""
    return subprocess.run(
        [sys.executable, "-m", "aos_proofs.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def tenant_client(platform: RunningPlatform) -> Any:
    operator = {"X-AOS-Key": platform.credentials["operator_key"]}
    with httpx.Client(base_url=platform.gateway_url, timeout=30.0, trust_env=False) as client:
        created = client.post(
            "/api/v1/tenants", json={"name": f"verify-{secrets.token_hex(4)}"}, headers=operator
        )
        assert created.status_code == 201, created.text
        client.headers["X-AOS-Key"] = created.json()["initial_api_key"]["key"]
        yield client


@pytest.fixture(scope="module")
def produced(tenant_client: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle, a ledger export and the published key, as the running platform gives them."""
    folder = tmp_path_factory.mktemp("verify")
    for index in range(3):
        response = tenant_client.post("/api/v1/tenant/api-keys", json={"name": f"k{index}"})
        assert response.status_code == 201, response.text
    run_id = f"run_{secrets.token_hex(8)}"
    trace = {
        "run_id": run_id,
        "agent_id": "verify-agent",
        "seed": 42,
        "frozen_timestamp": "2026-01-01T00:00:00Z",
        "status": "completed",
        "steps": [
            {"step_index": i, "skill_id": f"s{i}", "status": "success", "outcome_data": {"i": i}}
            for i in range(3)
        ],
    }
    assert tenant_client.post("/api/v1/traces", json=trace).is_success
    bundle = tenant_client.get(f"/api/v1/guard/logs/log_{run_id.removeprefix('run_')}/bundle")
    assert bundle.status_code == 200, bundle.text
    (folder / "bundle.zip").write_bytes(bundle.content)
    export = fetch_ledger_export(tenant_client)
    assert len(export["entries"]) >= 3
    (folder / "ledger.json").write_text(json.dumps(export))
    (folder / "keys.json").write_text(json.dumps(export["keys"]))
    return folder


def test_a_bundle_from_the_platform_verifies_offline_with_the_published_key(produced: Path) -> None:
    result = _aos_verify(
        "bundle", str(produced / "bundle.zip"), "--keys", str(produced / "keys.json")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified" in result.stdout


def test_a_ledger_export_from_the_platform_verifies_offline(produced: Path) -> None:
    result = _aos_verify(
        "ledger", str(produced / "ledger.json"), "--keys", str(produced / "keys.json")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout


def test_every_flipped_byte_of_the_bundle_is_reported(produced: Path, tmp_path: Path) -> None:
    original = (produced / "bundle.zip").read_bytes()
    key = json.loads((produced / "keys.json").read_text())["public_key"]
    for position in range(len(original)):
        flipped = bytearray(original)
        flipped[position] ^= 0x01
        target = tmp_path / "flipped.zip"
        target.write_bytes(bytes(flipped))
        report = verify_bundle(target, public_key=key)
        assert not report.ok, f"a flipped byte at {position} was not noticed"
        assert report.failures and all(f.detail for f in report.failures)


def test_a_changed_member_of_a_rebuilt_bundle_is_named(produced: Path, tmp_path: Path) -> None:
    """A forger who rewrites a file and rebuilds the zip (valid CRCs) is still caught, by name."""
    key = json.loads((produced / "keys.json").read_text())["public_key"]
    with zipfile.ZipFile(produced / "bundle.zip") as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    generated_at = json.loads(members["manifest.json"])["generated_at"]
    for name, data in members.items():
        if not data:
            continue
        changed = bytearray(data)
        changed[len(changed) // 2] ^= 0x01
        target = tmp_path / f"rebuilt-{name}.zip"
        with zipfile.ZipFile(target, "w") as archive:
            for other, content in members.items():
                member = zip_member(other, generated_at)
                archive.writestr(member, bytes(changed) if other == name else content)
        report = verify_bundle(target, public_key=key)
        assert not report.ok, f"a changed {name} was not noticed"
        assert "bundle.layout" not in {check.name for check in report.failures}


def _flip_one_character(value: str) -> str:
    middle = len(value) // 2
    replacement = "0" if value[middle] != "0" else "1"
    return value[:middle] + replacement + value[middle + 1 :]


def _string_leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _string_leaves(v, (*path, k))]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _string_leaves(v, (*path, i))]
    return [path] if isinstance(node, str) and node else []


def test_a_change_to_any_hashed_or_signed_value_of_the_ledger_export_is_reported(
    produced: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = json.loads((produced / "ledger.json").read_text())
    keys = str(produced / "keys.json")
    leaves = [
        path
        for path in _string_leaves({"entries": export["entries"], "tree_head": export["tree_head"]})
        if path[-1] not in ("id", "key_id")  # the row id and key id are not hashed or signed
    ]
    assert len(leaves) > 20
    for path in leaves:
        changed = json.loads(json.dumps(export))
        holder = changed
        for step in path[:-1]:
            holder = holder[step]
        holder[path[-1]] = _flip_one_character(holder[path[-1]])
        target = tmp_path / "changed.json"
        target.write_text(json.dumps(changed))
        code = cli.main(["ledger", str(target), "--keys", keys])
        output = capsys.readouterr().out
        assert code == 1, f"a changed {'.'.join(map(str, path))} was not noticed"
        assert "FAIL" in output
