"""The log id <-> run id mapping of API.md: `log_id` = "log_" + the run id without its "run_" prefix.

The mapping is lossy for run ids that never had the "run_" prefix (SDKs may choose their own run
ids): "log_abc" can stand for "run_abc" or for a bare "abc". `run_id_candidates` therefore lists
every run id a log id may stand for, most likely first, and the caller tries them in order.
"""

from __future__ import annotations

LOG_PREFIX = "log_"
RUN_PREFIX = "run_"


def log_id_for(run_id: str) -> str:
    return LOG_PREFIX + run_id.removeprefix(RUN_PREFIX)


def run_id_candidates(log_id: str) -> list[str]:
    """Run ids a log id may stand for; a run id (or trace id) given instead is accepted as is."""
    if not log_id.startswith(LOG_PREFIX) or log_id == LOG_PREFIX:
        return [log_id] if log_id else []
    bare = log_id.removeprefix(LOG_PREFIX)
    candidates = [RUN_PREFIX + bare]
    if not bare.startswith(RUN_PREFIX):
        candidates.append(bare)
    return candidates
