"""The load process SIGKILLed at each point of a run, then the partition re-run: the warehouse
ends row-for-row equal to a clean run, aggregates equal to a recomputation from the legs, and no
advisory lock is left held.

The victim is a separate OS process running the Dagster job; the test watches its backends in
pg_stat_activity and kills it at the moment it is in the phase named.
"""
from __future__ import annotations

from datetime import UTC

import psycopg
import pytest

from tests.conftest import PAST_DAY, day_range, rows, scalar, snapshot
from tests.recovery.conftest import FIRST, LAST, assert_recovered, nothing_loaded, rerun
from tests.recovery.victims import COPYING, FETCHING, MERGING, REFRESHING_AGGREGATES_BLOCKED, Phase, Victim


def kill_when(victim: Victim, phase: Phase) -> None:
    victim.wait_for(phase)
    victim.kill()
    victim.wait_until_backends_gone()


@pytest.mark.parametrize("provider, phase", [
    ("tenios", "copy"),
    ("tenios", "merge"),
    ("mixvoip", "merge"),
], ids=["tenios-during-copy", "tenios-during-merge", "mixvoip-during-merge"])
def test_kill_during_the_fact_load(sims, warehouse_url, clean_runs, figures, tmp_path, provider, phase):
    clean = clean_runs(provider)
    victim = Victim(warehouse_url, [provider], FIRST, LAST, tmp_path)
    kill_when(victim, {"copy": COPYING, "merge": MERGING}[phase])
    # the kill landed in the statement named: COPY streaming the legs, or the MERGE itself
    statement = {"copy": 'COPY "stage_call_leg"', "merge": "WITH latest AS"}[phase]
    seen = victim.running_at_kill
    assert any(query.lstrip().startswith(statement) for query in seen), seen
    # the raw pages were committed by the fetch step; nothing of the load is
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.window_fetch") == 1
    assert nothing_loaded(warehouse_url)
    rerun(provider)
    assert_recovered(warehouse_url, provider, clean, figures, injected=victim.kills,
                     running_at_kill=statement, fault=f"SIGKILL during {phase.upper()}",
                     partitions=1, outcome="killed run left nothing partial; re-run succeeded")


def test_kill_during_the_fetch(sims, warehouse_url, clean_runs, figures, tmp_path):
    clean = clean_runs("tenios")
    # every page after the second waits a second: the victim is still paging when it is killed
    sims["tenios"].post("/_sim/faults", [{"kind": "delay", "seconds": 1.0, "times": 100, "skip": 2,
                                          "path": "/cdrs/retrieve"}])
    victim = Victim(warehouse_url, ["tenios"], FIRST, LAST, tmp_path)
    kill_when(victim, FETCHING)
    # the pages it had landed were in the window's open transaction: gone with it
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response") == 0
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.window_fetch") == 0
    assert nothing_loaded(warehouse_url)
    sims["tenios"].reset()
    rerun("tenios")
    assert_recovered(warehouse_url, "tenios", clean, figures, injected=victim.kills,
                     fault="SIGKILL during fetch (paging)",
                     partitions=1, outcome="killed run left no raw pages; re-run succeeded")


def test_kill_between_the_fact_load_and_the_aggregate_refresh(sims, warehouse_url, clean_runs, figures,
                                                              tmp_path):
    clean = clean_runs("tenios")
    # Hold the aggregate table so the victim, legs and calls committed, waits at the refresh's
    # first write: the kill lands exactly between the fact load and the aggregates.
    with psycopg.connect(warehouse_url) as holder:
        holder.execute("LOCK TABLE cdr.agg_call_leg_hourly IN SHARE MODE")
        victim = Victim(warehouse_url, ["tenios"], FIRST, LAST, tmp_path)
        victim.wait_for(REFRESHING_AGGREGATES_BLOCKED)
        victim.kill()
    victim.wait_until_backends_gone()
    legs, calls = len(clean["cdr.fact_call_leg"]), len(clean["cdr.fact_call"])
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg") == legs
    # the calls are refreshed (and committed) before the aggregates: kept as well
    assert snapshot(warehouse_url, ("cdr.fact_call",), across_loads=True)["cdr.fact_call"] \
        == clean["cdr.fact_call"]
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.agg_call_leg_hourly") == 0, "not refreshed yet"
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.stale_day WHERE target = 'aggregates'") >= 1
    rerun("tenios")
    assert_recovered(warehouse_url, "tenios", clean, figures, injected=victim.kills,
                     fault="SIGKILL between fact load and aggregate refresh", partitions=1,
                     outcome=f"legs ({legs}) and calls ({calls}) kept, aggregates stale until the re-run;"
                             " re-run succeeded")


def test_kill_mid_backfill_keeps_the_days_already_loaded(sims, warehouse_url, clean_runs, figures, tmp_path):
    first, last = day_range(PAST_DAY, 2)
    clean = clean_runs("tenios", PAST_DAY, 2)
    victim = Victim(warehouse_url, ["tenios"], first, last, tmp_path)
    # the second day's MERGE: the first day's load (and its audit row) is committed by then
    kill_when(victim, MERGING.and_("EXISTS (SELECT 1 FROM cdr.load_audit)"))
    first_day_legs = sum(1 for leg in clean["cdr.fact_call_leg"]
                         if leg[4].astimezone(UTC).date() == PAST_DAY)
    assert rows(warehouse_url, "SELECT window_start::date, inserted FROM cdr.load_audit") == \
        [(PAST_DAY, first_day_legs)]
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg") == first_day_legs
    rerun("tenios", first, last)
    assert_recovered(warehouse_url, "tenios", clean, figures, injected=victim.kills,
                     fault="SIGKILL during MERGE of day 2 of a 2-day backfill",
                     partitions=2, outcome="day 1 kept, day 2 left as it was; re-run succeeded")
