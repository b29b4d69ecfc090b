from aos_common.migrations import run_env
from aos_guard_logs.models import SCHEMA, Base

run_env(Base.metadata, SCHEMA)
