"""Late OTLP spans: when a trace's root hash becomes final, and amendments after that.

An OTLP trace completes when its root span arrives; `hash_final_at` (the root's arrival plus the
grace period) is when its root hash becomes final. Until then late spans join the trace and the
hash is recomputed. After it, a late span is still stored, but the trace is amended: the root
hash it had when it became final stays in `final_root_hash`, `amended_at` records when, and every
amendment (hash before, hash after) is a row in `trace_amendments`. The immutability trigger lets
a completed trace change only while its hash is not final, or by such an amendment.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
ALTER TABLE traces.traces
    ADD COLUMN hash_final_at timestamptz,
    ADD COLUMN final_root_hash varchar(64),
    ADD COLUMN amended_at timestamptz;
ALTER TABLE traces.traces_archive
    ADD COLUMN hash_final_at timestamptz,
    ADD COLUMN final_root_hash varchar(64),
    ADD COLUMN amended_at timestamptz;

CREATE TABLE traces.trace_amendments (
    tenant_id varchar(64) NOT NULL,
    id uuid NOT NULL,
    trace_id varchar(128) NOT NULL,
    previous_root_hash varchar(64) NOT NULL,
    root_hash varchar(64) NOT NULL,
    steps_added integer NOT NULL,
    span_ids jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_trace_amendments PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_trace_amendments_trace ON traces.trace_amendments (tenant_id, trace_id);

CREATE OR REPLACE FUNCTION traces.forbid_completed_trace_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    probe traces.traces;
BEGIN
    IF OLD.completed_at IS NULL THEN
        RETURN NEW;
    END IF;
    IF OLD.hash_final_at IS NOT NULL AND now() < OLD.hash_final_at THEN
        RETURN NEW;
    END IF;
    probe := NEW;
    probe.archived_at := OLD.archived_at;
    IF NEW.amended_at IS NOT NULL AND NEW.amended_at IS DISTINCT FROM OLD.amended_at
        AND NEW.final_root_hash = coalesce(OLD.final_root_hash, OLD.root_hash) THEN
        probe.root_hash := OLD.root_hash;
        probe.final_root_hash := OLD.final_root_hash;
        probe.amended_at := OLD.amended_at;
        probe.status := OLD.status;
        probe.level := OLD.level;
        probe.started_at := OLD.started_at;
        probe.total_steps := OLD.total_steps;
        probe.success_count := OLD.success_count;
        probe.failure_count := OLD.failure_count;
        probe.total_cost_cents := OLD.total_cost_cents;
        probe.total_duration_ms := OLD.total_duration_ms;
    END IF;
    IF probe IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'trace % is completed and immutable', OLD.trace_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
"""

DOWNGRADE = """
CREATE OR REPLACE FUNCTION traces.forbid_completed_trace_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    probe traces.traces;
BEGIN
    IF OLD.completed_at IS NULL THEN
        RETURN NEW;
    END IF;
    probe := NEW;
    probe.archived_at := OLD.archived_at;
    IF probe IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'trace % is completed and immutable', OLD.trace_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
DROP TABLE IF EXISTS traces.trace_amendments;
ALTER TABLE traces.traces_archive
    DROP COLUMN hash_final_at, DROP COLUMN final_root_hash, DROP COLUMN amended_at;
ALTER TABLE traces.traces
    DROP COLUMN hash_final_at, DROP COLUMN final_root_hash, DROP COLUMN amended_at;
"""


def _statements(script: str) -> list[str]:
    """Split on `;` at line ends outside `$$` bodies (asyncpg runs one statement per call)."""
    statements, current = [], []
    for line in script.splitlines():
        current.append(line)
        text = "\n".join(current)
        if line.rstrip().endswith(";") and text.count("$$") % 2 == 0:
            statements.append(text.strip())
            current = []
    if "\n".join(current).strip():
        statements.append("\n".join(current).strip())
    return statements


def upgrade() -> None:
    for statement in _statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(DOWNGRADE):
        op.execute(statement)
