"""PostgreSQL itself failing under a load: restarted mid-MERGE, and out of space mid-load.
The run fails clearly, the partition keeps its previous state, and a re-run ends equal to a
clean run."""
from __future__ import annotations

import subprocess
from datetime import UTC, datetime, time, timedelta

import psycopg
import pytest

from tests.conftest import PAST_DAY, snapshot, truncate_warehouse
from tests.recovery.conftest import FIRST, LAST, assert_failed_clearly_then_recovered, assert_recovered, rerun
from tests.recovery.victims import MERGING, Victim


def test_postgres_restart_during_the_merge(private_server, sims, clean_runs, figures, tmp_path, monkeypatch):
    clean = clean_runs("tenios")
    url = private_server.url
    truncate_warehouse(url)
    victim = Victim(url, ["tenios"], FIRST, LAST, tmp_path)
    victim.wait_for(MERGING)
    private_server.restart()
    assert_failed_clearly_then_recovered(url, victim, "terminating connection due to administrator command",
                                         "tenios", clean, figures, monkeypatch, partitions=1,
                                         fault="PostgreSQL restarted (pg_ctl restart -m fast) during MERGE")


def test_temp_space_exhausted_mid_load_keeps_the_previous_state(sims, warehouse_url, clean_runs, figures,
                                                                tmp_path):
    """The server runs out of temporary file space in the MERGE's sort (temp_file_limit, set for
    the victim's sessions only, stands in for a full disk) while re-loading a day that is already
    in the warehouse without its late legs."""
    clean = clean_runs("tenios")
    before_late_legs = datetime.combine(PAST_DAY + timedelta(days=1), time(0, 30), UTC)
    sims["tenios"].post("/_sim/clock", {"now": before_late_legs.isoformat()})
    rerun("tenios")
    previous = snapshot(warehouse_url)
    assert len(previous["cdr.fact_call_leg"]) < len(clean["cdr.fact_call_leg"])
    sims["tenios"].reset()
    victim = Victim(warehouse_url, ["tenios"], FIRST, LAST, tmp_path,
                    extra_env={"PGOPTIONS": "-c work_mem=64kB -c temp_file_limit=64kB"})
    assert victim.finish() == 1, victim.output()
    assert 'temporary file size exceeds "temp_file_limit"' in victim.output(), victim.output()
    assert snapshot(warehouse_url) == previous, "the failed load changed nothing, not even load times"
    rerun("tenios")
    assert_recovered(warehouse_url, "tenios", clean, figures, injected=1,  # the run seen failing above
                     fault="temporary file space exhausted during MERGE (temp_file_limit)", partitions=1,
                     outcome="run failed: temporary file size exceeds temp_file_limit; previous state kept;"
                             " re-run succeeded")


@pytest.fixture
def full_tablespace(private_server):
    """A 1 MB tmpfs mounted as a tablespace of the private server: writes to it fail with ENOSPC."""
    mount_point = private_server.directory / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip("a real full disk needs a tmpfs mount (root with CAP_SYS_ADMIN), which this machine "
                    f"refuses: {mounted.stderr.strip()}; the temp_file_limit test covers the out-of-space"
                    " error path instead")
    try:
        if private_server.system_user:
            subprocess.run(["chown", private_server.system_user, str(mount_point)], check=True)
        with psycopg.connect(private_server.url, autocommit=True) as conn:
            conn.execute(f"CREATE TABLESPACE tiny LOCATION '{mount_point}'")
        yield "tiny"
        with psycopg.connect(private_server.url, autocommit=True) as conn:
            conn.execute("DROP TABLESPACE tiny")
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_disk_full_mid_load_commits_nothing(private_server, full_tablespace, sims, clean_runs, figures,
                                            tmp_path, monkeypatch):
    """A real ENOSPC: the victim creates the day's monthly leg partition on the 1 MB tablespace,
    and the MERGE of its 20 000 legs runs out of space."""
    clean = clean_runs("tenios")
    url = private_server.url
    truncate_warehouse(url)
    with psycopg.connect(url) as conn:  # so that the victim creates the month's partition afresh
        conn.execute(f"DROP TABLE IF EXISTS cdr.fact_call_leg_{PAST_DAY:%Y_%m}")
    victim = Victim(url, ["tenios"], FIRST, LAST, tmp_path,
                    extra_env={"PGOPTIONS": f"-c default_tablespace={full_tablespace}"})
    assert_failed_clearly_then_recovered(url, victim, "No space left on device", "tenios", clean, figures,
                                         monkeypatch, partitions=1,
                                         fault="disk full (ENOSPC on a 1 MB tablespace) during MERGE")
