"""The tree-head key: from AOS_LEDGER_SIGNING_KEY, or generated once into the data directory."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aos_audit_ledger.main import create_app
from aos_audit_ledger.settings import AuditLedgerSettings
from aos_audit_ledger.signing import KEY_FILE, SigningKeyError, load_signer
from aos_common import merkle
from aos_common.testing import app_client

from .support import admin, append, new_tenant


def raw_key_b64() -> tuple[str, str]:
    key = Ed25519PrivateKey.generate()
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    return base64.b64encode(key.private_bytes_raw()).decode(), public


def test_configured_key_is_used(tmp_path: Path) -> None:
    private, public = raw_key_b64()
    signer = load_signer(private, tmp_path)
    assert signer.public_key_b64 == public
    assert not (tmp_path / KEY_FILE).exists()


def test_generated_key_is_written_once_with_mode_0600_and_reused(tmp_path: Path) -> None:
    first = load_signer(None, tmp_path)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_signer(None, tmp_path).public_key_b64 == first.public_key_b64
    assert len(base64.b64decode(path.read_text())) == 32


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_malformed_key_is_refused_with_a_clear_error(tmp_path: Path, bad: str) -> None:
    with pytest.raises(SigningKeyError, match="AOS_LEDGER_SIGNING_KEY"):
        load_signer(bad, tmp_path)


def test_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    private, _ = raw_key_b64()
    monkeypatch.setenv("AOS_LEDGER_SIGNING_KEY", private)
    assert AuditLedgerSettings().ledger_signing_key == private


async def test_an_app_with_a_configured_key_signs_with_it(
    settings: AuditLedgerSettings, tmp_path: Path
) -> None:
    private, public = raw_key_b64()
    app = create_app(
        settings.model_copy(update={"ledger_signing_key": private, "data_dir": str(tmp_path)})
    )
    async with app_client(app) as client:
        tenant = new_tenant()
        await append(client, tenant)
        body = (await client.get("/api/v1/audit/public-key", headers=admin(tenant))).json()
        assert body["public_key"] == public
        head = (await client.get("/api/v1/audit/tree-head", headers=admin(tenant))).json()
        assert merkle.verify_tree_head_signature(head, tenant, public)


async def test_a_new_key_signs_a_new_head_for_the_same_size(
    settings: AuditLedgerSettings, tmp_path: Path
) -> None:
    tenant = new_tenant()
    heads = []
    for _ in range(2):
        private, public = raw_key_b64()
        app = create_app(
            settings.model_copy(update={"ledger_signing_key": private, "data_dir": str(tmp_path)})
        )
        async with app_client(app) as client:
            if not heads:
                await append(client, tenant)
            head = (await client.get("/api/v1/audit/tree-head", headers=admin(tenant))).json()
            assert merkle.verify_tree_head_signature(head, tenant, public)
            heads.append(head)
            verify = await client.get("/api/v1/audit/verify", headers=admin(tenant))
            assert verify.json()["intact"] is True
    assert heads[0]["tree_size"] == heads[1]["tree_size"] == 1
    assert heads[0]["root_hash"] == heads[1]["root_hash"]
    assert heads[0]["key_id"] != heads[1]["key_id"]
