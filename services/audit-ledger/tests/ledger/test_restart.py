"""The ledger as operators run it: a real uvicorn process in production mode, restarted.

A head signed before a restart (and before a key rotation) still verifies against the published
key set afterwards, with an inclusion proof fetched after the restart; without a key the process
refuses to start and says why."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from aos_common.testing import principal_headers
from aos_proofs import merkle
from aos_proofs.ledger import verify_tree_head_signature

from ..support import entry_body, new_tenant

INTERNAL_SECRET = "ledger-restart-test-internal-secret-0123456789"
START_TIMEOUT_SECONDS = 60.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(database_url: str, redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("AOS_", "OTEL_"))}
    return {
        **kept,
        "AOS_ENVIRONMENT": "production",
        "AOS_INTERNAL_SECRET": INTERNAL_SECRET,
        "AOS_JWT_SECRET": "ledger-restart-test-jwt-secret-0123456789",
        "AOS_TELEMETRY_ENABLED": "false",
        "AOS_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        **extra,
    }


def _command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "aos_audit_ledger.main:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip


@contextmanager
def running_ledger(environment: dict[str, str]) -> Iterator[httpx.Client]:
    port = _free_port()
    process = subprocess.Popen(
        _command(port), env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while True:
                assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the ledger did not become ready"
                time.sleep(0.2)
            yield client
    finally:
        process.terminate()
        process.wait(timeout=30)


def _key() -> tuple[str, str]:
    from aos_audit_ledger.ledger.signing import new_private_key

    return new_private_key()


def _admin(tenant: str) -> dict[str, str]:
    return principal_headers(tenant, roles=["admin"], secret=INTERNAL_SECRET)


def test_an_old_head_and_proof_verify_after_a_restart_with_a_rotated_key(
    ledger_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    tenant = new_tenant()
    old_private, old_public = _key()
    new_private, _ = _key()
    first = _environment(
        ledger_database_url, redis_url, tmp_path, AOS_LEDGER_SIGNING_KEY=old_private
    )
    with running_ledger(first) as ledger:
        for _ in range(3):
            created = ledger.post(
                "/api/v1/audit/entries", json=entry_body(), headers=_admin(tenant)
            )
            assert created.status_code == 201, created.text
        old_head = ledger.get("/api/v1/audit/tree-head", headers=_admin(tenant)).json()
    assert old_head["tree_size"] == 3

    with running_ledger(first) as ledger:  # same key: the very same head is served again
        assert ledger.get("/api/v1/audit/tree-head", headers=_admin(tenant)).json() == old_head

    rotated = _environment(
        ledger_database_url,
        redis_url,
        tmp_path,
        AOS_LEDGER_SIGNING_KEY=new_private,
        AOS_LEDGER_PREVIOUS_PUBLIC_KEYS=old_public,
    )
    with running_ledger(rotated) as ledger:
        ledger.post("/api/v1/audit/entries", json=entry_body(), headers=_admin(tenant))
        new_head = ledger.get("/api/v1/audit/tree-head", headers=_admin(tenant)).json()
        keys = ledger.get("/api/v1/audit/public-keys", headers=_admin(tenant)).json()["keys"]
        proof = ledger.get(
            "/api/v1/audit/proof/inclusion",
            params={"seq": 2, "tree_size": old_head["tree_size"]},
            headers=_admin(tenant),
        ).json()
        intact = ledger.get("/api/v1/audit/verify", headers=_admin(tenant)).json()

    published = {key["key_id"]: key["public_key"] for key in keys}
    assert new_head["key_id"] != old_head["key_id"]
    assert verify_tree_head_signature(old_head, tenant, published[old_head["key_id"]])
    assert verify_tree_head_signature(new_head, tenant, published[new_head["key_id"]])
    assert merkle.verify_inclusion(
        proof["leaf_hash"], proof["leaf_index"], proof["tree_size"], proof["audit_path"],
        old_head["root_hash"],
    )  # fmt: skip
    assert intact["intact"] is True and intact["checked"] == 4


def test_production_without_a_key_refuses_to_start_and_says_why(
    ledger_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    environment = _environment(ledger_database_url, redis_url, tmp_path)
    result = subprocess.run(
        _command(_free_port()), env=environment, capture_output=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert b"AOS_LEDGER_SIGNING_KEY (or AOS_LEDGER_SIGNING_KEY_FILE) must be set" in result.stderr
    assert not (tmp_path / "audit-ledger").exists()
