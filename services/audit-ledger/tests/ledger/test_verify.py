"""`/verify` and tampering: a row altered in Postgres by a superuser is named by seq, and its
inclusion proof against the last signed tree head fails."""

from __future__ import annotations

import asyncpg
import httpx

from aos_proofs import ledger, merkle

from ..support import admin, append, entry_body, new_tenant


async def tamper(database_url: str, statement: str, *args: object) -> None:
    """Run `statement` with the append-only triggers out of the way, as a superuser could."""
    connection = await asyncpg.connect(database_url)
    try:
        async with connection.transaction():
            await connection.execute("ALTER TABLE audit.entries DISABLE TRIGGER USER")
            await connection.execute("ALTER TABLE audit.merkle_nodes DISABLE TRIGGER USER")
            await connection.execute(statement, *args)
            for table in ("entries", "merkle_nodes"):
                for trigger in ("refuse_update_delete", "refuse_truncate"):
                    await connection.execute(
                        f"ALTER TABLE audit.{table} ENABLE ALWAYS TRIGGER {table}_{trigger}"
                    )
    finally:
        await connection.close()


async def verify(client: httpx.AsyncClient, tenant: str, **params: int) -> dict:
    response = await client.get("/api/v1/audit/verify", params=params, headers=admin(tenant))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_an_untouched_ledger_verifies_intact(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    for _ in range(5):
        await append(client, tenant)
    assert await verify(client, tenant) == {
        "intact": True,
        "checked": 5,
        "broken_at_seq": None,
        "reason": None,
    }
    assert (await verify(client, tenant, from_seq=2, to_seq=4))["checked"] == 3


async def test_an_empty_ledger_verifies_intact_with_nothing_checked(
    client: httpx.AsyncClient,
) -> None:
    assert (await verify(client, new_tenant()))["checked"] == 0


async def test_altered_content_is_reported_at_its_seq_and_fails_its_inclusion_proof(
    client: httpx.AsyncClient, ledger_database_url: str
) -> None:
    tenant = new_tenant()
    for _ in range(6):
        await append(client, tenant)
    head = (await client.get("/api/v1/audit/tree-head", headers=admin(tenant))).json()
    await tamper(
        ledger_database_url,
        "UPDATE audit.entries SET action_reason = 'nothing to see' WHERE tenant_id = $1 AND seq = 4",
        tenant,
    )
    report = await verify(client, tenant)
    assert report == {
        "intact": False,
        "checked": 4,
        "broken_at_seq": 4,
        "reason": "entry_hash does not match the entry's content",
    }
    listed = await client.get("/api/v1/audit/entries", headers=admin(tenant))
    altered = next(e for e in listed.json()["data"] if e["seq"] == 4)
    assert altered["action_reason"] == "nothing to see"
    proof = (
        await client.get(
            "/api/v1/audit/proof/inclusion",
            params={"seq": 4, "tree_size": head["tree_size"]},
            headers=admin(tenant),
        )
    ).json()
    leaf = merkle.leaf_hash(ledger.entry_hash(altered))
    assert not merkle.verify_inclusion(
        leaf, 3, head["tree_size"], proof["audit_path"], head["root_hash"]
    )
    untouched = next(e for e in listed.json()["data"] if e["seq"] == 5)
    other = (
        await client.get(
            "/api/v1/audit/proof/inclusion",
            params={"seq": 5, "tree_size": head["tree_size"]},
            headers=admin(tenant),
        )
    ).json()
    assert merkle.verify_inclusion(
        merkle.leaf_hash(ledger.entry_hash(untouched)), 4, head["tree_size"],
        other["audit_path"], head["root_hash"],
    )  # fmt: skip


async def test_content_and_hash_rewritten_together_are_caught_by_the_merkle_leaf(
    client: httpx.AsyncClient, ledger_database_url: str
) -> None:
    tenant = new_tenant()
    entries = [await append(client, tenant) for _ in range(5)]
    head = (await client.get("/api/v1/audit/tree-head", headers=admin(tenant))).json()
    forged = {**entries[2], "actor_id": "someone_else"}
    forged_hash = ledger.entry_hash(forged)
    await tamper(
        ledger_database_url,
        "UPDATE audit.entries SET actor_id = 'someone_else', entry_hash = $2 "
        "WHERE tenant_id = $1 AND seq = 3",
        tenant,
        forged_hash,
    )
    report = await verify(client, tenant)
    assert (report["broken_at_seq"], report["reason"]) == (
        3,
        "the Merkle leaf does not match entry_hash",
    )
    proof = (
        await client.get(
            "/api/v1/audit/proof/inclusion",
            params={"seq": 3, "tree_size": head["tree_size"]},
            headers=admin(tenant),
        )
    ).json()
    assert proof["leaf_hash"] == merkle.leaf_hash(forged_hash)
    assert not merkle.verify_inclusion(
        proof["leaf_hash"], 2, head["tree_size"], proof["audit_path"], head["root_hash"]
    )


async def test_deleted_internal_nodes_are_reported_at_the_entry_that_completed_them(
    client: httpx.AsyncClient, ledger_database_url: str
) -> None:
    tenant = new_tenant()
    for _ in range(4):
        await append(client, tenant)
    await tamper(
        ledger_database_url,
        "DELETE FROM audit.merkle_nodes WHERE tenant_id = $1 AND level > 0",
        tenant,
    )
    report = await verify(client, tenant)
    assert report["intact"] is False and report["broken_at_seq"] == 2
    assert report["reason"] == "Merkle node (level 1, index 0) does not match the entries"


async def test_a_consistently_rewritten_history_is_caught_by_the_signed_tree_head(
    client: httpx.AsyncClient, ledger_database_url: str
) -> None:
    """Rewrite entry 2 and every later hash, leaf and node so that the stored data agrees with
    itself: only the tree head signed before the rewrite can tell, and it does."""
    tenant = new_tenant()
    entries = [await append(client, tenant) for _ in range(4)]
    await client.get("/api/v1/audit/tree-head", headers=admin(tenant))
    entries[1] = {**entries[1], "action_reason": "rewritten"}
    for index in range(1, 4):
        entries[index]["prev_hash"] = entries[index - 1]["entry_hash"]
        entries[index]["entry_hash"] = ledger.entry_hash(entries[index])
    frontier = merkle.Frontier()
    nodes = [
        node
        for entry in entries
        for node in frontier.append(merkle.leaf_hash_bytes(bytes.fromhex(entry["entry_hash"])))
    ]
    connection = await asyncpg.connect(ledger_database_url)
    try:
        async with connection.transaction():
            for table in ("entries", "merkle_nodes"):
                await connection.execute(f"ALTER TABLE audit.{table} DISABLE TRIGGER USER")
            for entry in entries[1:]:
                await connection.execute(
                    "UPDATE audit.entries SET action_reason = $3, prev_hash = $4, entry_hash = $5"
                    " WHERE tenant_id = $1 AND seq = $2",
                    tenant, entry["seq"], entry["action_reason"], entry["prev_hash"],
                    entry["entry_hash"],
                )  # fmt: skip
            await connection.execute("DELETE FROM audit.merkle_nodes WHERE tenant_id = $1", tenant)
            await connection.executemany(
                "INSERT INTO audit.merkle_nodes (tenant_id, level, idx, hash) VALUES ($1, $2, $3, $4)",
                [(tenant, level, index, digest) for level, index, digest in nodes],
            )
            for table in ("entries", "merkle_nodes"):
                for trigger in ("refuse_update_delete", "refuse_truncate"):
                    await connection.execute(
                        f"ALTER TABLE audit.{table} ENABLE ALWAYS TRIGGER {table}_{trigger}"
                    )
    finally:
        await connection.close()
    report = await verify(client, tenant)
    assert report == {
        "intact": False,
        "checked": 4,
        "broken_at_seq": 4,
        "reason": "the Merkle root at tree size 4 does not match the signed tree head",
    }


async def test_a_deleted_entry_is_reported_missing(
    client: httpx.AsyncClient, ledger_database_url: str
) -> None:
    tenant = new_tenant()
    for _ in range(4):
        await append(client, tenant)
    await tamper(
        ledger_database_url, "DELETE FROM audit.entries WHERE tenant_id = $1 AND seq = 2", tenant
    )
    report = await verify(client, tenant)
    assert (report["broken_at_seq"], report["reason"]) == (2, "entry seq 2 is missing")


async def test_tampering_is_not_visible_to_other_tenants(
    client: httpx.AsyncClient, ledger_database_url: str
) -> None:
    victim, bystander = new_tenant(), new_tenant()
    for _ in range(3):
        await append(client, victim)
        await append(client, bystander)
    await tamper(
        ledger_database_url,
        "UPDATE audit.entries SET entity_id = 'x' WHERE tenant_id = $1 AND seq = 1",
        victim,
    )
    assert (await verify(client, victim))["broken_at_seq"] == 1
    assert (await verify(client, bystander))["intact"] is True


async def test_verify_range_errors(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    response = await client.get(
        "/api/v1/audit/verify", params={"from_seq": 5, "to_seq": 2}, headers=admin(tenant)
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "from_seq must not be greater than to_seq"
    response = await client.get(
        "/api/v1/audit/verify", params={"from_seq": 0}, headers=admin(tenant)
    )
    assert response.status_code == 422


async def test_large_and_tiny_floats_read_back_exactly_as_hashed(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    state = {"big": 1.2345678901234567e18, "tiny": 1e-300, "half": 0.5, "int": 7}
    created = await append(client, tenant, after_state=state)
    listed = (await client.get("/api/v1/audit/entries", headers=admin(tenant))).json()["data"]
    assert listed[0]["after_state"] == state
    assert ledger.entry_hash(listed[0]) == created["entry_hash"]
    assert (await verify(client, tenant))["intact"] is True


async def test_a_number_beyond_int64_is_refused_at_append(client: httpx.AsyncClient) -> None:
    """Every service port refuses numbers of 2**63 or more (aos_common.input_limits): PostgreSQL's
    jsonb would give such a float back as an integer of 155 digits no reader takes."""
    tenant = new_tenant()
    response = await client.post(
        "/api/v1/audit/entries",
        json=entry_body(after_state={"huge": 1e300}),
        headers=admin(tenant),
    )
    assert response.status_code == 422, response.text
    assert "out of range" in response.json()["detail"]


async def test_content_without_a_canonical_form_is_reported_not_a_500(
    client: httpx.AsyncClient, ledger_database_url: str
) -> None:
    tenant = new_tenant()
    await append(client, tenant)
    await tamper(
        ledger_database_url,
        """UPDATE audit.entries SET after_state = '{"x": 1e400}' WHERE tenant_id = $1""",
        tenant,
    )
    report = await verify(client, tenant)
    assert (report["broken_at_seq"], report["reason"]) == (
        1,
        "the entry's content has no RFC 8785 form",
    )
