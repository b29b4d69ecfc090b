"""The ledger's hand-written SQL: the hot paths, each of one fixed shape so that it is compiled
once, and the call of the PL/pgSQL function that takes the append lock (migration 0003)."""

from __future__ import annotations

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.dialects.postgresql import JSON

NODES_SQL = text(
    """
    SELECT n.level, n.idx, n.hash
    FROM audit.merkle_nodes AS n
    JOIN unnest(CAST(:levels AS smallint[]), CAST(:idxs AS bigint[])) AS wanted(level, idx)
      ON n.level = wanted.level AND n.idx = wanted.idx
    WHERE n.tenant_id = :tenant_id
    """
)

# Lock, de-duplication check and append context in one round trip: see migration 0003.
BEGIN_APPEND_SQL = text(
    "SELECT existing_seq, last_seq, last_hash, last_created, node_level, node_idx, node_hash "
    "FROM audit.begin_append(:tenant_id, :dedup_key)"
)


INSERT_SQL = text(
    """
    WITH new_entry AS (
        INSERT INTO audit.entries (
            tenant_id, seq, id, dedup_key, event_type, entity_type, entity_id, actor_type,
            actor_id, action_reason, before_state, after_state, run_id, created_at, prev_hash,
            entry_hash)
        VALUES (
            :tenant_id, :seq, :id, :dedup_key, :event_type, :entity_type, :entity_id,
            :actor_type, :actor_id, :action_reason, :before_state, :after_state, :run_id,
            :created_at, :prev_hash, :entry_hash)
    )
    INSERT INTO audit.merkle_nodes (tenant_id, level, idx, hash)
    SELECT :tenant_id, level, idx, hash
    FROM unnest(CAST(:levels AS smallint[]), CAST(:idxs AS bigint[]), CAST(:hashes AS bytea[]))
        AS node(level, idx, hash)
    """
).bindparams(
    bindparam("before_state", type_=JSON(none_as_null=True)),
    bindparam("after_state", type_=JSON(none_as_null=True)),
    bindparam("created_at", type_=DateTime(timezone=True)),
)

PROOF_MATERIAL_SQL = text(
    """
    SELECT
        (SELECT coalesce(max(seq), 0) FROM audit.entries WHERE tenant_id = :tenant_id) AS size,
        (SELECT entry_hash FROM audit.entries
         WHERE tenant_id = :tenant_id AND seq = CAST(:seq AS bigint)) AS entry_hash,
        n.level, n.idx, n.hash
    FROM (SELECT 1) AS one
    LEFT JOIN (
        unnest(CAST(:levels AS smallint[]), CAST(:idxs AS bigint[])) AS wanted(level, idx)
        JOIN audit.merkle_nodes AS n
          ON n.tenant_id = :tenant_id AND n.level = wanted.level AND n.idx = wanted.idx
    ) ON true
    """
)
