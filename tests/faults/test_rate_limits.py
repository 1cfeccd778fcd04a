"""Provider rate limits hold across concurrent runs, measured at the simulator (docs/rate-limits.md).

- Belfabriek's requests per second are paced per account through PostgreSQL (cdr.request_pacing):
  two runs on one account at once stay within the configured rate together. The control, each
  run pacing itself alone as before, exceeds it, so the measurement can fail.
- Each provider's raw-pages assets are in the Dagster pool `provider_<name>`: with the pool's
  limit at 1 (dagster.yaml's concurrency.pools.default_limit), two runs never have two requests
  to the provider in flight at once; without a limit they do.

Each run is a Dagster run in its own OS process (tests/faults/rate_limited_run.py). So that two
runs certainly overlap, the test holds the advisory lock of each run's day (locks.lock_window,
taken before a day's first request) until both are waiting, then lets them go at once.
"""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from dagster import DagsterInstance

from pipelines.partitions import day_window
from pipelines.providers.belfabriek import SPEC as BELFABRIEK
from pipelines.providers.belfabriek.simulator import SERVICE_NUMBERS
from pipelines.providers.tenios import SPEC as TENIOS
from pipelines.simulation import Fault, SimulatorServer
from pipelines.warehouse.connection import PROJECT_ROOT, ensure_database, with_database
from pipelines.warehouse.locks import lock_window
from tests.conftest import PAST_DAY, TEST_DATABASE, scalar
from tests.simulator_driver import FAST_RETRIES

DAYS = [PAST_DAY.isoformat(), (PAST_DAY + timedelta(days=1)).isoformat()]
TIMEOUT_S = 120  # only there so that a broken run fails the test instead of hanging the suite
_names = itertools.count(1)


class Run:
    """tests/faults/rate_limited_run.py for one day, its connections named for pg_stat_activity."""

    def __init__(self, url: str, provider: str, day: str, log_dir: Path, environment: dict[str, str],
                 *flags: str):
        self.application_name = f"cdr-rate-limit-{os.getpid()}-{next(_names)}"
        self.log_path = log_dir / f"{self.application_name}.log"
        env = {**os.environ, **environment, "CDR_WAREHOUSE_URL": url, "PGAPPNAME": self.application_name}
        with open(self.log_path, "wb") as log:  # a file, not a pipe: a full pipe would stall the run
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.faults.rate_limited_run", provider, day, day, *flags],
                env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)

    def finish(self) -> int:
        return self.process.wait(timeout=TIMEOUT_S)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def days_held(url: str, provider: str, account: str) -> Iterator[None]:
    """Each day's fetch lock held by this test until the block ends (committing releases them)."""
    with psycopg.connect(url) as holder:
        for day in DAYS:
            lock_window(holder, provider, account, day_window(day))
        yield


def runs_waiting_for_a_lock(url: str, runs: list[Run]) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(DISTINCT a.application_name)"
            " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = ANY(%s)",
            ([run.application_name for run in runs],)).fetchone()[0]


def wait_until(condition: Callable[[], bool], runs: list[Run], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        for run in runs:
            assert run.process.poll() is None, f"a run ended before {what}:\n{run.output()}"
        assert time.monotonic() < deadline, f"the runs never {what}"
        time.sleep(0.05)


def finished(runs: list[Run]) -> None:
    outcomes = [run.finish() for run in runs]
    assert outcomes == [0] * len(runs), "\n".join(run.output() for run in runs)


def sim_stats(url: str) -> dict:
    return httpx.get(url + "/_sim/stats").raise_for_status().json()


@pytest.fixture(scope="module")
def belfabriek():
    simulated = BELFABRIEK.simulator(None)
    with SimulatorServer(simulated.app) as server:
        yield server.url, simulated


@pytest.fixture(scope="module")
def tenios():
    simulated = TENIOS.simulator(None)
    with SimulatorServer(simulated.app) as server:
        yield server.url, simulated


@pytest.mark.parametrize("alone", [False, True], ids=["pacing shared", "control: each run alone"])
def test_two_runs_on_one_account_never_exceed_its_rate_at_the_simulator(belfabriek, clean_warehouse,
                                                                       tmp_path, alone):
    url, simulated = belfabriek
    simulated.app.state.sim.reset()  # measures only: no limit of its own, every request answered
    before = sim_stats(url)["requests_served"]
    account = simulated.environment["BELFABRIEK_ACCOUNT"]
    environment = {**simulated.environment, **FAST_RETRIES, BELFABRIEK.base_url_variable: url,
                   "BELFABRIEK_REQUESTS_PER_SECOND": "2",
                   # four requests a day, one per number: a few seconds of requests in all
                   "BELFABRIEK_SERVICE_NUMBERS": ",".join(SERVICE_NUMBERS[:4])}
    with days_held(clean_warehouse, "belfabriek", account):
        flags = ["--alone"] if alone else []
        runs = [Run(clean_warehouse, "belfabriek", day, tmp_path, environment, *flags) for day in DAYS]
        wait_until(lambda: runs_waiting_for_a_lock(clean_warehouse, runs) == 2, runs, "queued for their days")
    finished(runs)
    stats = sim_stats(url)
    assert stats["requests_served"] - before == 8
    most = stats["max_requests_per_second"][account]
    if alone:
        assert most > 2, stats  # each run alone keeps 2 a second, the two together do not
    else:
        assert most <= 2, stats
        assert scalar(clean_warehouse, "SELECT count(*) FROM cdr.request_pacing"
                                       " WHERE provider = 'belfabriek' AND account = %s", (account,)) == 1


@pytest.fixture
def dagster_home(warehouse_url, tmp_path, monkeypatch) -> Callable[[int | None], Path]:
    """dagster_home(limit): a DAGSTER_HOME holding the project's dagster.yaml with the pools'
    default_limit set to `limit` (None: no limit), its storage a fresh database of its own."""
    server = with_database(warehouse_url, "postgres")
    database = f"{TEST_DATABASE}_dagster"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    monkeypatch.setenv("DAGSTER_PG_URL", ensure_database(server, database))
    shipped = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())

    def home(limit: int | None) -> Path:
        config = {**shipped, "concurrency": {**shipped["concurrency"],
                                             "pools": dict(shipped["concurrency"]["pools"])}}
        pools = config["concurrency"]["pools"]
        pools.pop("default_limit")
        if limit is not None:
            pools["default_limit"] = limit
        folder = tmp_path / "dagster_home"
        folder.mkdir()
        (folder / "dagster.yaml").write_text(yaml.safe_dump(config))
        return folder

    return home


@pytest.mark.parametrize("limit", [1, None], ids=["pool limit 1", "control: no limit"])
def test_a_provider_pool_caps_its_concurrent_requests_across_runs(tenios, clean_warehouse, dagster_home,
                                                                  tmp_path, limit):
    url, simulated = tenios
    state = simulated.app.state.sim
    state.reset()
    state.inject(Fault("delay", times=1000, seconds=0.3))  # requests slow enough to overlap
    before = state.requests_served
    home = dagster_home(limit)
    # the storage's tables made here, once, before two runs would race to make them
    instance = DagsterInstance.from_config(str(home))
    assert instance.global_op_concurrency_default_limit == limit
    # The pool's slots made here too, as on any instance that has run once: Dagster makes them
    # count-then-insert, so two runs claiming a brand-new pool at the same moment can make one
    # slot each (docs/rate-limits.md)
    instance.event_log_storage.initialize_concurrency_limit_to_default("provider_tenios")
    account = simulated.environment["TENIOS_ACCOUNT"]
    environment = {**simulated.environment, **FAST_RETRIES, TENIOS.base_url_variable: url,
                   "DAGSTER_HOME": str(home)}

    def pool() -> tuple[int, int]:
        info = instance.event_log_storage.get_concurrency_info("provider_tenios")
        return info.active_slot_count, info.pending_step_count

    with days_held(clean_warehouse, "tenios", account):
        # One run first, the other once the first waits for its day: two processes starting at the
        # same moment race inside Dagster's own instance set-up (seen as a NOT NULL violation in
        # its concurrency table on a loaded machine), which is not what this test is about.
        runs = [Run(clean_warehouse, "tenios", DAYS[0], tmp_path, environment, "--persistent")]
        wait_until(lambda: runs_waiting_for_a_lock(clean_warehouse, runs) == 1, runs, "queued for its day")
        runs.append(Run(clean_warehouse, "tenios", DAYS[1], tmp_path, environment, "--persistent"))
        if limit is None:
            wait_until(lambda: runs_waiting_for_a_lock(clean_warehouse, runs) == 2, runs,
                       "queued for their days")
        else:  # one run has the pool's slot and waits for its day, the other waits for the slot
            wait_until(lambda: runs_waiting_for_a_lock(clean_warehouse, runs) == 1 and pool() == (1, 1),
                       runs, "took the pool's slot and queued for it")
    finished(runs)
    stats = sim_stats(url)
    assert stats["requests_served"] - before >= 4  # a page and a count per day at least
    assert stats["max_in_flight"] == (2 if limit is None else 1), stats
    assert instance.event_log_storage.get_concurrency_info("provider_tenios").slot_count == (limit or 0)
    instance.dispose()
