from aos_audit_ledger.models import SCHEMA, Base
from aos_common.migrations import run_env

run_env(Base.metadata, SCHEMA)
