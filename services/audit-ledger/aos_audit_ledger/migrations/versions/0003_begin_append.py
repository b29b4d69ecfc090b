"""audit.begin_append(tenant, dedup_key): take the tenant's append lock, then read what an append
needs, in one round trip.

Inside a VOLATILE PL/pgSQL function each statement takes a fresh snapshot (READ COMMITTED), so the
reads after the lock see everything the previous lock holder committed; a single SQL statement
could not do that (its snapshot predates the lock). Returns either one row naming the entry
already written under `dedup_key` (existing_seq), or the newest entry (last_*) joined with the
stored left siblings its successor's leaf completes (node_*: level g for every g with
(seq + 1) divisible by 2^(g + 1), at idx ((seq + 1) >> g) - 2), or no row for an empty ledger.

Revision ID: 0003
Revises: 0002
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION audit.begin_append(p_tenant text, p_dedup_key text)
        RETURNS TABLE (
            existing_seq bigint, last_seq bigint, last_hash text, last_created timestamptz,
            node_level smallint, node_idx bigint, node_hash bytea
        )
        LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
            v_existing bigint;
            v_seq bigint;
            v_hash text;
            v_created timestamptz;
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtextextended('aos.audit.append:' || p_tenant, 0));
            IF p_dedup_key IS NOT NULL THEN
                SELECT e.seq INTO v_existing FROM audit.entries AS e
                WHERE e.tenant_id = p_tenant AND e.dedup_key = p_dedup_key;
                IF FOUND THEN
                    RETURN QUERY SELECT v_existing, NULL::bigint, NULL::text, NULL::timestamptz,
                        NULL::smallint, NULL::bigint, NULL::bytea;
                    RETURN;
                END IF;
            END IF;
            SELECT e.seq, e.entry_hash, e.created_at INTO v_seq, v_hash, v_created
            FROM audit.entries AS e WHERE e.tenant_id = p_tenant ORDER BY e.seq DESC LIMIT 1;
            IF NOT FOUND THEN
                RETURN;
            END IF;
            RETURN QUERY
                SELECT NULL::bigint, v_seq, v_hash, v_created, n.level, n.idx, n.hash
                FROM (SELECT 1) AS one
                LEFT JOIN (
                    (SELECT g::smallint AS w_level, ((v_seq + 1) >> g) - 2 AS w_idx
                     FROM generate_series(0, 61) AS g
                     WHERE (v_seq + 1) % (1::bigint << (g + 1)) = 0) AS wanted
                    JOIN audit.merkle_nodes AS n
                      ON n.tenant_id = p_tenant AND n.level = wanted.w_level
                     AND n.idx = wanted.w_idx
                ) ON true;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS audit.begin_append(text, text)")
