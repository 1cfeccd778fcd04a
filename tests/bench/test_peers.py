"""`make bench PEERS=dlt`: the peer's stage loads the legs the project loads, with dlt's merge,
into the same PostgreSQL; its record is a stage like every other; dlt writes nothing outside its
scratch directory; and nothing Dagster, the CLI or the benchmark loads imports dlt."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from pipelines import bench
from pipelines.sql import sql_file
from tests.conftest import PAST_DAY, rows
from tests.simulator_driver import simulators

requires_dlt = pytest.mark.skipif(
    importlib.util.find_spec("dlt") is None,
    reason="dlt is not installed: it is the optional extra `peers`"
           " (pip install -e '.[peers]'; `make bench PEERS=dlt` installs it)")

PROVIDER = "tenios"
DAYS = [PAST_DAY, PAST_DAY + timedelta(days=1)]
KEYS = "SELECT provider, account, leg_key, started_at FROM {} ORDER BY 1, 2, 3, 4"


@pytest.fixture
def no_peer_tables(clean_warehouse):
    def drop() -> None:
        with psycopg.connect(clean_warehouse) as conn:
            conn.execute(sql_file("bench/peer_dlt_fresh.sql"))
    drop()
    yield clean_warehouse
    drop()


def dlt_global_dir() -> tuple | None:
    """What dlt's global folder (/var/dlt as root, else ~/.dlt) holds: names and mtimes."""
    from dlt.common.runtime.run_context import global_dir  # noqa: PLC0415 - dlt is optional

    folder = Path(global_dir())
    if not folder.is_dir():
        return None
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir()))


@requires_dlt
def test_dlt_stage_loads_the_projects_legs_by_merge_and_records_a_stage(no_peer_tables):
    url = no_peer_tables
    global_before = dlt_global_dir()
    with simulators([PROVIDER]):
        account = bench.provider_account(PROVIDER).account
        bench.land(url, PROVIDER, {}, DAYS, workers=1)
        bench.project_load(url, PROVIDER, account, DAYS)
        project_keys = rows(url, KEYS.format("cdr.fact_call_leg"))
        legs = len(project_keys)
        first = bench.measure(PROVIDER, bench.DLT_FIRST_LOAD, legs, "dlt_load", url, PROVIDER, DAYS)
        dlt_keys = rows(url, KEYS.format("peer_dlt.fact_call_leg"))
        # a second load of the same legs into dlt's table: merged on the key, not appended
        again = bench.measure(PROVIDER, bench.DLT_FIRST_LOAD, legs, "dlt_load", url, PROVIDER, DAYS, False)

    assert legs > 400  # two days of about 300 legs each
    assert first.rewritten == legs and dlt_keys == project_keys
    assert again.rewritten == legs and rows(url, KEYS.format("peer_dlt.fact_call_leg")) == project_keys

    record = json.loads(json.dumps(bench.stage_record(first)))  # as .bench/results.json holds it
    assert record["provider"] == PROVIDER and "dlt" in record["name"]
    assert record["legs_per_s"] == pytest.approx(legs / first.seconds) and record["legs_per_s"] > 0
    assert 0 < record["peak_rss_mib"] < 4096 and record["peak_rss_mib"] == first.peak_rss_mib

    assert dlt_global_dir() == global_before, "dlt wrote into its global folder, outside its scratch folder"


def test_nothing_dagster_the_cli_or_the_benchmark_loads_imports_dlt():
    program = ("import sys, pipelines.cli, pipelines.definitions, pipelines.bench;"
               " print(sorted(m for m in sys.modules if m.split('.')[0] == 'dlt'))")
    loaded = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"


@requires_dlt
def test_dlt_keeps_every_folder_in_its_scratch_directory_with_telemetry_off(warehouse_url, monkeypatch,
                                                                             tmp_path):
    from pipelines import bench_peers  # noqa: PLC0415 - it imports dlt, which may be missing

    # a developer's own dlt settings in the environment must not send the benchmark's dlt elsewhere
    for variable in ("DLT_DATA_DIR", "DLT_PROJECT_DIR"):
        monkeypatch.setenv(variable, str(tmp_path / variable))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "true")
    with bench_peers.isolated_dlt() as scratch:
        pipeline = bench_peers.peer_pipeline(warehouse_url, scratch)
        context = pipeline.run_context
        folders = {"working": pipeline.working_dir, "data": context.data_dir, "global": context.global_dir,
                   "settings": context.settings_dir}
        assert {name: Path(folder).is_relative_to(scratch) for name, folder in folders.items()} == \
            dict.fromkeys(folders, True), folders
        assert context.runtime_config.dlthub_telemetry is False
    assert not scratch.exists()
    assert not any(tmp_path.iterdir())
    assert os.environ["DLT_DATA_DIR"] == str(tmp_path / "DLT_DATA_DIR")  # the environment restored
