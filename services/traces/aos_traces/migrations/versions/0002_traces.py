"""Traces, month-partitioned steps, mismatches, evidence, idempotency records, replay checks,
archive tables, the immutability trigger and the on-demand partition function.

Revision ID: 0002
Revises: 0001
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRACE_COLUMNS = """
    tenant_id varchar(64) NOT NULL,
    trace_id varchar(128) NOT NULL,
    run_id varchar(128) NOT NULL,
    correlation_id varchar(128) NOT NULL,
    agent_id varchar(128),
    plan jsonb,
    metadata jsonb,
    started_at timestamptz NOT NULL,
    completed_at timestamptz,
    status varchar(32) NOT NULL,
    seed bigint NOT NULL,
    frozen_timestamp varchar(64),
    root_hash varchar(64) NOT NULL,
    client_root_hash varchar(128),
    hash_verified boolean NOT NULL,
    plan_hash varchar(128),
    schema_version varchar(16) NOT NULL,
    is_synthetic boolean NOT NULL,
    incident_id varchar(128),
    replay_mode varchar(32) NOT NULL,
    level varchar(8) NOT NULL,
    total_steps integer NOT NULL,
    success_count integer NOT NULL,
    failure_count integer NOT NULL,
    total_cost_cents double precision NOT NULL,
    total_duration_ms double precision NOT NULL,
    source varchar(16) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
"""

STEP_COLUMNS = """
    tenant_id varchar(64) NOT NULL,
    trace_id varchar(128) NOT NULL,
    step_index integer NOT NULL,
    timestamp timestamptz NOT NULL,
    skill_id varchar(256) NOT NULL,
    skill_name varchar(256) NOT NULL,
    params jsonb,
    status varchar(16) NOT NULL,
    outcome_category varchar(64) NOT NULL,
    outcome_code varchar(128),
    outcome_data jsonb,
    cost_cents double precision NOT NULL,
    duration_ms double precision NOT NULL,
    retry_count integer NOT NULL,
    source varchar(16) NOT NULL,
    level varchar(8) NOT NULL,
    input_hash varchar(128) NOT NULL,
    output_hash varchar(128) NOT NULL,
    rng_state_before varchar(512),
    idempotency_key varchar(256),
    replay_behavior varchar(8) NOT NULL,
    span_id varchar(32)
"""

UPGRADE = f"""
CREATE TABLE traces.traces ({TRACE_COLUMNS},
    archived_at timestamptz,
    CONSTRAINT pk_traces PRIMARY KEY (tenant_id, trace_id)
);
CREATE INDEX ix_traces_started ON traces.traces (tenant_id, started_at DESC);
CREATE INDEX ix_traces_run ON traces.traces (tenant_id, run_id);
CREATE INDEX ix_traces_root_hash ON traces.traces (tenant_id, root_hash);
CREATE INDEX ix_traces_incident ON traces.traces (tenant_id, incident_id)
    WHERE incident_id IS NOT NULL;
CREATE INDEX ix_traces_created ON traces.traces (tenant_id, created_at);

CREATE TABLE traces.traces_archive ({TRACE_COLUMNS},
    archived_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_traces_archive PRIMARY KEY (tenant_id, trace_id)
);

CREATE TABLE traces.trace_steps ({STEP_COLUMNS},
    CONSTRAINT pk_trace_steps PRIMARY KEY (tenant_id, trace_id, step_index, timestamp)
) PARTITION BY RANGE (timestamp);
CREATE TABLE traces.trace_steps_default PARTITION OF traces.trace_steps DEFAULT;
CREATE INDEX ix_trace_steps_timestamp ON traces.trace_steps USING brin (timestamp);

CREATE TABLE traces.trace_steps_archive ({STEP_COLUMNS},
    archived_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_trace_steps_archive PRIMARY KEY (tenant_id, trace_id, step_index, timestamp)
);

CREATE TABLE traces.trace_mismatches (
    tenant_id varchar(64) NOT NULL,
    id uuid NOT NULL,
    trace_id varchar(128) NOT NULL,
    step_index integer,
    reason varchar(256) NOT NULL,
    expected_hash varchar(128),
    actual_hash varchar(128),
    details jsonb,
    reported_by varchar(128),
    notification_sent boolean NOT NULL DEFAULT false,
    issue_url text,
    resolved boolean NOT NULL DEFAULT false,
    resolved_at timestamptz,
    resolved_by varchar(128),
    resolution_note text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_trace_mismatches PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_trace_mismatches_trace ON traces.trace_mismatches (tenant_id, trace_id);
CREATE INDEX ix_trace_mismatches_created ON traces.trace_mismatches (tenant_id, created_at);

CREATE TABLE traces.trace_evidence (
    tenant_id varchar(64) NOT NULL,
    id uuid NOT NULL,
    trace_id varchar(128) NOT NULL,
    evidence_class varchar(32) NOT NULL,
    failure_type varchar(32),
    details jsonb,
    recorded_by varchar(128),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_trace_evidence PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_trace_evidence_trace ON traces.trace_evidence (tenant_id, trace_id);

CREATE TABLE traces.idempotency_records (
    tenant_id varchar(64) NOT NULL,
    idempotency_key varchar(256) NOT NULL,
    trace_id varchar(128) NOT NULL,
    step_index integer NOT NULL,
    status varchar(16) NOT NULL,
    output_hash varchar(128),
    output jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_idempotency_records PRIMARY KEY (tenant_id, idempotency_key)
);

CREATE TABLE traces.replay_checks (
    tenant_id varchar(64) NOT NULL,
    id uuid NOT NULL,
    trace_id varchar(128) NOT NULL,
    step_index integer NOT NULL,
    behavior varchar(8) NOT NULL,
    expected_hash varchar(128),
    actual_hash varchar(128),
    match boolean,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_replay_checks PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_replay_checks_trace ON traces.replay_checks (tenant_id, trace_id);

CREATE FUNCTION traces.forbid_completed_trace_update() RETURNS trigger
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
CREATE TRIGGER trg_traces_immutable BEFORE UPDATE ON traces.traces
    FOR EACH ROW EXECUTE FUNCTION traces.forbid_completed_trace_update();

CREATE FUNCTION traces.forbid_step_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'trace steps are append-only' USING ERRCODE = 'check_violation';
END;
$$;
CREATE TRIGGER trg_trace_steps_append_only BEFORE UPDATE ON traces.trace_steps
    FOR EACH ROW EXECUTE FUNCTION traces.forbid_step_update();

-- Monthly partition for the month starting at month_start (UTC); false when it cannot be made
-- (e.g. the default partition already holds rows of that month, which then stay there).
CREATE FUNCTION traces.ensure_step_partition(month_start date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    name text := 'trace_steps_p' || to_char(month_start, 'YYYYMM');
BEGIN
    IF to_regclass('traces.' || name) IS NOT NULL THEN
        RETURN true;
    END IF;
    EXECUTE format(
        'CREATE TABLE traces.%I PARTITION OF traces.trace_steps FOR VALUES FROM (%L) TO (%L)',
        name,
        month_start::text || ' 00:00:00+00',
        (month_start + interval '1 month')::date::text || ' 00:00:00+00'
    );
    RETURN true;
EXCEPTION WHEN others THEN
    RETURN to_regclass('traces.' || name) IS NOT NULL;
END;
$$;

SELECT traces.ensure_step_partition(
    (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m))::date
) FROM generate_series(-1, 2) AS m;
"""

DOWNGRADE = """
DROP TABLE IF EXISTS traces.replay_checks;
DROP TABLE IF EXISTS traces.idempotency_records;
DROP TABLE IF EXISTS traces.trace_evidence;
DROP TABLE IF EXISTS traces.trace_mismatches;
DROP TABLE IF EXISTS traces.trace_steps_archive;
DROP TABLE IF EXISTS traces.trace_steps CASCADE;
DROP TABLE IF EXISTS traces.traces_archive;
DROP TABLE IF EXISTS traces.traces;
DROP FUNCTION IF EXISTS traces.ensure_step_partition(date);
DROP FUNCTION IF EXISTS traces.forbid_step_update();
DROP FUNCTION IF EXISTS traces.forbid_completed_trace_update();
"""


def _statements(script: str) -> list[str]:
    """Split on `;` at line ends outside `$$` bodies (asyncpg runs one statement per call)."""
    statements, current = [], []
    for line in script.splitlines():
        if line.startswith("--"):
            continue
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
