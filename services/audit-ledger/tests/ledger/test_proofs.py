"""Signed tree heads, inclusion and consistency proofs, checked with aos_proofs.merkle."""

from __future__ import annotations

import httpx

from aos_proofs import ledger, merkle

from ..support import admin, append, new_tenant


async def public_key(client: httpx.AsyncClient, tenant: str) -> str:
    response = await client.get("/api/v1/audit/public-key", headers=admin(tenant))
    assert response.status_code == 200
    return str(response.json()["public_key"])


async def tree_head(client: httpx.AsyncClient, tenant: str) -> dict:
    response = await client.get("/api/v1/audit/tree-head", headers=admin(tenant))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_tree_head_of_an_empty_ledger_is_the_empty_root_signed(
    client: httpx.AsyncClient,
) -> None:
    tenant = new_tenant()
    head = await tree_head(client, tenant)
    assert set(head) == {"tree_size", "root_hash", "timestamp", "signature", "key_id"}
    assert head["tree_size"] == 0 and head["root_hash"] == merkle.EMPTY_ROOT_HEX
    assert ledger.verify_tree_head_signature(head, tenant, await public_key(client, tenant))


async def test_tree_head_root_is_the_rfc6962_root_of_the_entry_hashes(
    client: httpx.AsyncClient,
) -> None:
    tenant = new_tenant()
    entries = [await append(client, tenant) for _ in range(7)]
    head = await tree_head(client, tenant)
    assert head["tree_size"] == 7
    assert head["root_hash"] == merkle.root_hash(
        [merkle.leaf_hash(e["entry_hash"]) for e in entries]
    )
    assert ledger.verify_tree_head_signature(head, tenant, await public_key(client, tenant))
    assert not ledger.verify_tree_head_signature(
        head, new_tenant(), await public_key(client, tenant)
    )


async def test_same_tree_size_gets_the_same_signed_head(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    await append(client, tenant)
    first, second = await tree_head(client, tenant), await tree_head(client, tenant)
    assert first == second
    await append(client, tenant)
    assert (await tree_head(client, tenant))["tree_size"] == 2


async def test_public_key_names_the_key_and_the_signed_message(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    body = (await client.get("/api/v1/audit/public-key", headers=admin(tenant))).json()
    assert body["algorithm"] == "Ed25519"
    assert body["key_id"] == (await tree_head(client, tenant))["key_id"]
    assert body["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")


async def test_every_entry_has_an_inclusion_proof_against_every_tree_size(
    client: httpx.AsyncClient,
) -> None:
    tenant = new_tenant()
    entries = [await append(client, tenant) for _ in range(9)]
    leaves = [merkle.leaf_hash(e["entry_hash"]) for e in entries]
    for tree_size in (1, 4, 5, 9):
        root = merkle.root_hash(leaves[:tree_size])
        for entry in entries[:tree_size]:
            response = await client.get(
                "/api/v1/audit/proof/inclusion",
                params={"seq": entry["seq"], "tree_size": tree_size},
                headers=admin(tenant),
            )
            proof = response.json()
            assert set(proof) == {"leaf_index", "tree_size", "leaf_hash", "audit_path"}
            assert proof["leaf_index"] == entry["seq"] - 1
            assert proof["leaf_hash"] == merkle.leaf_hash(entry["entry_hash"])
            assert merkle.verify_inclusion(
                proof["leaf_hash"], proof["leaf_index"], tree_size, proof["audit_path"], root
            )


async def test_inclusion_proof_defaults_to_the_current_tree(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    for _ in range(3):
        await append(client, tenant)
    head = await tree_head(client, tenant)
    proof = (
        await client.get("/api/v1/audit/proof/inclusion", params={"seq": 2}, headers=admin(tenant))
    ).json()
    assert proof["tree_size"] == 3
    assert merkle.verify_inclusion(proof["leaf_hash"], 1, 3, proof["audit_path"], head["root_hash"])


async def test_consistency_proofs_link_older_signed_heads_to_newer_ones(
    client: httpx.AsyncClient,
) -> None:
    tenant = new_tenant()
    heads = []
    for _ in range(6):
        await append(client, tenant)
        heads.append(await tree_head(client, tenant))
    for old in heads:
        for new in heads:
            if old["tree_size"] > new["tree_size"]:
                continue
            response = await client.get(
                "/api/v1/audit/proof/consistency",
                params={"first": old["tree_size"], "second": new["tree_size"]},
                headers=admin(tenant),
            )
            body = response.json()
            assert (body["first"], body["second"]) == (old["tree_size"], new["tree_size"])
            assert merkle.verify_consistency(
                old["tree_size"],
                new["tree_size"],
                old["root_hash"],
                new["root_hash"],
                body["proof"],
            )


async def test_proof_errors_say_what_is_wrong(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    for _ in range(3):
        await append(client, tenant)
    cases = [
        ("/api/v1/audit/proof/inclusion", {"seq": 4}, 404, "Audit entry with seq 4 not found"),
        (
            "/api/v1/audit/proof/inclusion",
            {"seq": 1, "tree_size": 9},
            400,
            "tree_size 9 exceeds the ledger size 3",
        ),
        (
            "/api/v1/audit/proof/inclusion",
            {"seq": 3, "tree_size": 2},
            400,
            "seq 3 is not in a tree of size 2",
        ),
        (
            "/api/v1/audit/proof/consistency",
            {"first": 3, "second": 2},
            400,
            "first must not be greater than second",
        ),
        (
            "/api/v1/audit/proof/consistency",
            {"first": 1, "second": 5},
            400,
            "second 5 exceeds the ledger size 3",
        ),
    ]
    for path, params, status, detail in cases:
        response = await client.get(path, params=params, headers=admin(tenant))
        assert (response.status_code, response.json()["detail"]) == (status, detail)
        assert response.headers["content-type"] == "application/problem+json"
    for path, params in [
        ("/api/v1/audit/proof/inclusion", {"seq": 0}),
        ("/api/v1/audit/proof/inclusion", {"seq": "x"}),
        ("/api/v1/audit/proof/consistency", {"first": 0, "second": 1}),
    ]:
        assert (await client.get(path, params=params, headers=admin(tenant))).status_code == 422
