"""Two runs of the same partitions at once (a backfill overlapping the nightly run), as two OS
processes against the same simulator and database: no double counting, no deadlock, both succeed.

The design under test: a window's fetch runs under an advisory lock (locks.lock_window), merges
into the fact for one provider account are serialised (locks.lock_account_loads), and the MERGE's
WHEN MATCHED guard makes the second merge of the same legs a no-op.
"""
from __future__ import annotations

import time

import psycopg

from pipelines.providers.tenios import SIM_ACCOUNT
from pipelines.warehouse.locks import lock_account_loads
from tests.conftest import PAST_DAY, day_range, rows
from tests.recovery.conftest import assert_recovered
from tests.recovery.victims import PHASE_TIMEOUT_S, Victim

DAYS = 2
FIRST, LAST = day_range(PAST_DAY, DAYS)

# Victims queued behind the advisory lock `holder_pid` holds.
_WAITING_BEHIND = """
SELECT count(DISTINCT a.application_name)
FROM pg_locks w
JOIN pg_locks h ON h.pid = %(holder)s AND h.locktype = 'advisory' AND h.granted
               AND (h.database, h.classid, h.objid, h.objsubid) = (w.database, w.classid, w.objid, w.objsubid)
JOIN pg_stat_activity a ON a.pid = w.pid
WHERE w.locktype = 'advisory' AND NOT w.granted AND a.application_name = ANY(%(names)s)
"""


def wait_until_queued(url: str, holder_pid: int, victims: list[Victim]) -> None:
    names = [v.application_name for v in victims]
    deadline = time.monotonic() + PHASE_TIMEOUT_S
    with psycopg.connect(url, autocommit=True) as conn:
        def queued() -> int:
            return conn.execute(_WAITING_BEHIND, {"holder": holder_pid, "names": names}).fetchone()[0]

        while queued() < len(names):
            for victim in victims:
                assert victim.process.poll() is None, f"a run ended before the load lock:\n{victim.output()}"
            assert time.monotonic() < deadline, "the runs never queued for the load lock"
            time.sleep(0.01)


def test_two_runs_of_the_same_partitions_at_once(sims, warehouse_url, clean_runs, figures, tmp_path):
    clean = clean_runs("tenios", PAST_DAY, DAYS)
    # Left alone, one run might simply finish before the other starts. So hold the account's
    # load lock until both runs have fetched and queue for it: their loads certainly race.
    with psycopg.connect(warehouse_url) as holder:
        lock_account_loads(holder, "tenios", SIM_ACCOUNT)
        runs = [Victim(warehouse_url, ["tenios"], FIRST, LAST, tmp_path) for _ in range(2)]
        wait_until_queued(warehouse_url, holder.info.backend_pid, runs)
    outcomes = [run.finish() for run in runs]
    assert outcomes == [0, 0], "\n".join(run.output() for run in runs)
    # Each day loaded twice: once inserting every leg, once finding every leg unchanged (merged
    # again, or skipped when the second run saw the first's load of the same pages in time).
    audit = rows(warehouse_url, "SELECT window_start::date, legs_parsed, inserted, updated, unchanged"
                                " FROM cdr.load_audit ORDER BY window_start, id")
    assert len(audit) == 2 * DAYS
    for (day, parsed, inserted, updated, unchanged), second in zip(audit[::2], audit[1::2], strict=True):
        assert (inserted, updated, unchanged) == (parsed, 0, 0)
        assert (second[0], second[2], second[3], second[4]) == (day, 0, 0, inserted)
    assert_recovered(warehouse_url, "tenios", clean, figures, injected=len(runs),
                     fault="two runs of the same partitions at once",
                     partitions=DAYS,
                     outcome="both runs succeeded; the second load of each day found every leg unchanged")
