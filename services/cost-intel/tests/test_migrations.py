"""Migration 0004 gives the rollup tables free page room and takes it back on downgrade."""

from __future__ import annotations

import asyncpg

from aos_common.migrations import downgrade, upgrade
from aos_common.testing import run_in_thread

ROLLUPS = ("cost_rollups_hourly", "cost_rollups_daily", "cost_rollups_dim")


async def fillfactors(url: str) -> dict[str, str | None]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT c.relname, (SELECT option_value FROM pg_options_to_table(c.reloptions) "
            "WHERE option_name = 'fillfactor') AS fillfactor "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'cost_intel' AND c.relname = ANY($1::text[])",
            list(ROLLUPS),
        )
    finally:
        await connection.close()
    return {row["relname"]: row["fillfactor"] for row in rows}


async def test_rollup_fillfactor_goes_up_down_and_up_again(scratch_database: str) -> None:
    run_in_thread(lambda: upgrade("aos_cost_intel", scratch_database))
    assert await fillfactors(scratch_database) == dict.fromkeys(ROLLUPS, "70")
    run_in_thread(lambda: downgrade("aos_cost_intel", scratch_database, "0003"))
    assert await fillfactors(scratch_database) == dict.fromkeys(ROLLUPS, None)
    run_in_thread(lambda: downgrade("aos_cost_intel", scratch_database, "base"))
    assert await fillfactors(scratch_database) == {}
    run_in_thread(lambda: upgrade("aos_cost_intel", scratch_database))
    assert await fillfactors(scratch_database) == dict.fromkeys(ROLLUPS, "70")
