"""The tree-head key: from AOS_LEDGER_SIGNING_KEY, or generated once into the data directory."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aos_audit_ledger.ledger.signing import KEY_FILE, SigningKeyError, load_signer
from aos_audit_ledger.main import create_app
from aos_audit_ledger.settings import AuditLedgerSettings
from aos_common.testing import app_client
from aos_proofs import ledger

from ..support import admin, append, new_tenant


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
        assert ledger.verify_tree_head_signature(head, tenant, public)


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
            assert ledger.verify_tree_head_signature(head, tenant, public)
            heads.append(head)
            verify = await client.get("/api/v1/audit/verify", headers=admin(tenant))
            assert verify.json()["intact"] is True
    assert heads[0]["tree_size"] == heads[1]["tree_size"] == 1
    assert heads[0]["root_hash"] == heads[1]["root_hash"]
    assert heads[0]["key_id"] != heads[1]["key_id"]


def test_production_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"AOS_LEDGER_SIGNING_KEY .* must be set outside development"
    ):
        AuditLedgerSettings(environment="production", internal_secret="x" * 40, jwt_secret="y" * 40)


def test_an_empty_key_file_counts_as_no_key_in_production(tmp_path: Path) -> None:
    empty = tmp_path / "ledger-signing-key"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="must be set outside development"):
        AuditLedgerSettings(
            environment="production",
            internal_secret="x" * 40,
            jwt_secret="y" * 40,
            ledger_signing_key_file=str(empty),
        )


def test_the_key_file_is_read_when_the_variable_is_unset(tmp_path: Path) -> None:
    private, public = raw_key_b64()
    secret = tmp_path / "ledger-signing-key"
    secret.write_text(private + "\n")
    settings = AuditLedgerSettings(
        environment="production",
        internal_secret="x" * 40,
        jwt_secret="y" * 40,
        ledger_signing_key_file=str(secret),
    )
    assert load_signer(settings.signing_key(), tmp_path).public_key_b64 == public


def test_retired_public_keys_are_published_beside_the_current_one(tmp_path: Path) -> None:
    private, public = raw_key_b64()
    _, retired = raw_key_b64()
    signer = load_signer(private, tmp_path, [retired, public])
    published = signer.published()
    assert [(key, current) for _, key, current in published] == [(public, True), (retired, False)]
    retired_id = published[1][0]
    assert signer.public_key_for(retired_id) == retired
    assert signer.public_key_for("0" * 16) is None


def test_a_malformed_retired_key_is_refused_naming_the_setting(tmp_path: Path) -> None:
    private, _ = raw_key_b64()
    with pytest.raises(SigningKeyError, match="AOS_LEDGER_PREVIOUS_PUBLIC_KEYS"):
        load_signer(private, tmp_path, ["bm90IGEga2V5"])


async def test_after_a_rotation_old_heads_still_verify_with_the_published_set(
    settings: AuditLedgerSettings, tmp_path: Path
) -> None:
    tenant = new_tenant()
    old_private, old_public = raw_key_b64()
    new_private, _ = raw_key_b64()
    old = settings.model_copy(update={"ledger_signing_key": old_private, "data_dir": str(tmp_path)})
    async with app_client(create_app(old)) as client:
        await append(client, tenant)
        old_head = (await client.get("/api/v1/audit/tree-head", headers=admin(tenant))).json()
    rotated = settings.model_copy(
        update={
            "ledger_signing_key": new_private,
            "ledger_previous_public_keys": old_public,
            "data_dir": str(tmp_path),
        }
    )
    async with app_client(create_app(rotated)) as client:
        await append(client, tenant)
        await client.get("/api/v1/audit/tree-head", headers=admin(tenant))
        keys = (await client.get("/api/v1/audit/public-keys", headers=admin(tenant))).json()
        by_id = {key["key_id"]: key for key in keys["keys"]}
        assert by_id[old_head["key_id"]]["current"] is False
        assert ledger.verify_tree_head_signature(
            old_head, tenant, by_id[old_head["key_id"]]["public_key"]
        )
        verify = (await client.get("/api/v1/audit/verify", headers=admin(tenant))).json()
        assert verify == {"intact": True, "checked": 2, "broken_at_seq": None, "reason": None}


def test_production_refuses_the_development_key_shipped_with_the_repository() -> None:
    development = (
        Path(__file__).resolve().parents[4] / "k8s/overlays/dev/ledger-signing-key.development"
    )
    with pytest.raises(ValueError, match="development key published with the repository"):
        AuditLedgerSettings(
            environment="production",
            internal_secret="x" * 40,
            jwt_secret="y" * 40,
            ledger_signing_key_file=str(development),
        )
