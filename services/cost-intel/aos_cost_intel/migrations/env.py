from aos_common.migrations import run_env
from aos_cost_intel.models import SCHEMA, Base

run_env(Base.metadata, SCHEMA)
