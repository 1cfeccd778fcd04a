"""The concurrency mechanisms, each proven by forcing the one interleaving it exists for.

Left to the scheduler, two runs of the same day rarely overlap at the dangerous moment, so a test
that merely starts them together passes with or without the mechanism. Here every racer is a
library call (land_window, load_windows, refresh_stale) in its own thread with its own
connections, named in pg_stat_activity, and is held at a precise point by the test: by a lock the
test's own connection holds (an advisory lock the code takes, a row the code must write, an
uncommitted row the code's insert conflicts with), or, where the database offers no pause point,
by a gate in the parse callable. The test waits on pg_stat_activity (never on a sleep) until each
racer is where it must be, changes what the simulator serves or lands a newer fetch, and lets go.
Threads rather than processes: what the mechanisms keep apart are transactions, and each racer's
are its own backends' (psycopg releases the GIL while it waits on the server), at a fraction of
the cost of a Dagster run per racer.

Each test fails with its mechanism removed (the lock made a no-op, the stale parse loaded): the
mutation catalogue (`make mutate`) holds those mutants.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import psycopg
import pytest

from pipelines.config import ProviderAccount, account_from_env
from pipelines.model import FetchedPage, RawPage, Window
from pipelines.providers.spec import CALL_LEGS
from pipelines.providers.tenios.settings import RETRIEVE_PATH
from pipelines.registry import registry
from pipelines.simulators import running_simulators
from pipelines.warehouse.aggregates import refresh_stale
from pipelines.warehouse.load import load_windows
from pipelines.warehouse.locks import exclude_leg_changes, lock_account_loads
from pipelines.warehouse.raw import land_window, store_page, window_page_ids
from tests.conftest import PAST_DAY, rows
from tests.recovery.conftest import advisory_locks_held, aggregate_mismatches
from tests.simulator_driver import FAST_RETRIES, SimulatorDriver

PROVIDER = "tenios"
DAY = datetime(PAST_DAY.year, PAST_DAY.month, PAST_DAY.day, tzinfo=UTC)
WINDOW: Window = (DAY, DAY + timedelta(days=1))
# Every leg of DAY visible (the latest is visible 30 hours after it ends), whatever the real date.
SIMULATOR_NOW = (DAY + timedelta(days=4)).isoformat()
# Few legs: one page per window (the client's page size is 500), a load in milliseconds.
LEGS_PER_DAY = 120
# Generous: only there so that a broken mechanism fails the test instead of hanging the suite.
TIMEOUT_S = 60
POLL_S = 0.005
# What the changed answer says one answered leg cost: a value the simulator never serves.
CHANGED_COST = Decimal("9.8765")

_names = itertools.count(1)


@pytest.fixture(scope="module")
def simulator(warehouse_url) -> Iterator[SimulatorDriver]:
    """One TENIOS simulator for the module; its variables taken out of the environment after."""
    saved = dict(os.environ)
    os.environ.update(FAST_RETRIES)
    try:
        with running_simulators([PROVIDER], legs_per_day=LEGS_PER_DAY) as urls:
            yield SimulatorDriver(urls[PROVIDER])
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def sim(simulator, clean_warehouse) -> Iterator[SimulatorDriver]:
    simulator.reset()
    simulator.post("/_sim/clock", {"now": SIMULATOR_NOW})
    yield simulator
    simulator.reset()


@pytest.fixture
def source(sim) -> ProviderAccount:
    return account_from_env(registry()[PROVIDER], os.environ)


class Racer:
    """A library call in a thread of its own, on connections of its own whose application_name
    tells its backends apart in pg_stat_activity (as tests/recovery/victims.py does for a process)."""

    def __init__(self, url: str, role: str, call: Callable[[Racer], Any]):
        self.url, self.role = url, role
        self.application_name = f"cdr-interleaving-{role}-{os.getpid()}-{next(_names)}"
        self._call = call
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=self.application_name, daemon=True)
        self._thread.start()

    def connect(self, autocommit: bool = False) -> psycopg.Connection:
        """What the library calls take as `connect`."""
        return psycopg.connect(self.url, autocommit=autocommit, application_name=self.application_name)

    def _run(self) -> None:
        try:
            self._result = self._call(self)
        except BaseException as exc:  # noqa: BLE001 -- not swallowed: raised again by result()
            self._error = exc

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> Any:
        self._thread.join(TIMEOUT_S)
        assert self.done, f"{self.role} is still running after {TIMEOUT_S} s"
        if self._error is not None:
            raise AssertionError(f"{self.role} failed: {self._error!r}") from self._error
        return self._result


# One of a racer's backends waiting for a heavyweight lock: an advisory lock, a row another
# transaction holds, an index entry another transaction inserted. `event` narrows it to one kind
# (pg_stat_activity.wait_event: 'advisory', 'transactionid', 'tuple'), `statement` to a statement
# whose text contains it.
_WAITING = """
SELECT count(*) FROM pg_stat_activity
WHERE application_name = %(name)s AND wait_event_type = 'Lock'
  AND (%(event)s::text IS NULL OR wait_event = %(event)s)
  AND (%(statement)s::text IS NULL OR position(%(statement)s IN query) > 0)
"""
# One of a racer's backends in a statement, waiting or not (a COPY FROM STDIN waits for its rows).
_RUNNING = """
SELECT count(*) FROM pg_stat_activity
WHERE application_name = %(name)s AND state = 'active' AND starts_with(query, %(statement)s)
"""


def _any(conn: psycopg.Connection, query: str, params: dict) -> bool:
    row = conn.execute(query, params).fetchone()
    assert row is not None  # count(*) always answers
    return row[0] > 0


def waiting(racer: Racer, event: str | None = None, statement: str | None = None):
    def check(conn: psycopg.Connection) -> bool:
        return _any(conn, _WAITING, {"name": racer.application_name, "event": event, "statement": statement})
    check.__doc__ = f"{racer.role} waits for a lock ({event or 'any'}) in {statement or 'any statement'}"
    return check


def running(racer: Racer, statement: str):
    def check(conn: psycopg.Connection) -> bool:
        return _any(conn, _RUNNING, {"name": racer.application_name, "statement": statement})
    check.__doc__ = f"{racer.role} runs {statement}"
    return check


def waiting_or_done(racer: Racer, event: str):
    """The racer queued for a lock of kind `event` (the mechanism holds it back), or it ran to the
    end (no mechanism held it back): either way it has gone as far as it can while held."""
    blocked = waiting(racer, event)

    def check(conn: psycopg.Connection) -> bool:
        return racer.done or blocked(conn)
    check.__doc__ = f"{racer.role} waits for an {event} lock or has finished"
    return check


def wait_until(url: str, condition: Callable[[psycopg.Connection], bool], *alive: Racer) -> None:
    """Poll until `condition` holds. A racer in `alive` that ends first fails the test at once
    (with its error, if any): the moment the test needed was missed, and it would prove nothing."""
    deadline = time.monotonic() + TIMEOUT_S
    with psycopg.connect(url, autocommit=True) as conn:  # autocommit: a fresh view each poll
        while not condition(conn):
            for racer in alive:
                if racer.done:
                    racer.result()  # raises its error, if it had one
                    raise AssertionError(f"{racer.role} ended before: {condition.__doc__}")
            assert time.monotonic() < deadline, f"never happened: {condition.__doc__}"
            time.sleep(POLL_S)


def changed_answer(source: ProviderAccount) -> tuple[str, str]:
    """The window's page as the simulator serves it now, with one answered leg's cost changed
    to CHANGED_COST (a provider's corrected re-delivery: same legs, same count, one value new);
    and that leg's uuid, its key in the warehouse. Served with `serve_next`."""
    with closing(source.open_client(os.environ)) as client:
        [page] = list(client.fetch_window(WINDOW))
    document = orjson.loads(page.body)
    leg = next(item for item in document["items"] if item["answer_stamp"] is not None)
    leg["cost"] = float(CHANGED_COST)
    return orjson.dumps(document).decode(), leg["uuid"]


def serve_next(sim: SimulatorDriver, body: str) -> None:
    """The simulator answers the next /cdrs/retrieve with `body` (HTTP 200); /cdrs/count is
    untouched and still agrees, as the changed answer holds the same legs."""
    sim.inject({"kind": "body", "body": body, "path": RETRIEVE_PATH, "times": 1})


def land(url: str, source: ProviderAccount) -> list[int]:
    """One fetch of the window, committed: its raw page ids."""
    with closing(source.open_client(os.environ)) as client:
        raw_ids, _, _ = land_window(lambda: psycopg.connect(url), client, PROVIDER, WINDOW)
    return raw_ids


def load(connect: Callable[..., psycopg.Connection], source: ProviderAccount,
         parse: Callable[[Iterator[RawPage]], Iterable[Any]] | None = None) -> dict[str, int]:
    return load_windows(connect, PROVIDER, source.account, source.spec.items, [WINDOW],
                        parse=parse or source.parse, parser_version=source.parser_version)


def refresh(conn: psycopg.Connection, source: ProviderAccount, target: str) -> int:
    """What the account's load asset does after its loads: the day before the window too."""
    return refresh_stale(conn, target, (WINDOW[0] - timedelta(days=1), WINDOW[1]),
                         provider=PROVIDER, account=source.account)


def leg(url: str, source: ProviderAccount, uuid: str) -> tuple[Decimal, int]:
    """(cost_eur, raw_response_id) of one leg."""
    [(cost, raw_id)] = rows(url, "SELECT cost_eur, raw_response_id FROM cdr.fact_call_leg"
                                 " WHERE provider = %s AND account = %s AND leg_key = %s",
                            (PROVIDER, source.account, uuid))
    return cost, raw_id


def window_fetch_ids(url: str, source: ProviderAccount) -> list[int]:
    with psycopg.connect(url) as conn:
        return window_page_ids(conn, PROVIDER, source.account, WINDOW)


def window_load_ids(url: str, source: ProviderAccount) -> list[int]:
    [(ids,)] = rows(url, "SELECT raw_response_ids FROM cdr.window_load WHERE provider = %s AND account = %s"
                         " AND window_start = %s", (PROVIDER, source.account, WINDOW[0]))
    return list(ids)


def records_fetched(url: str, source: ProviderAccount) -> int:
    [(records,)] = rows(url, "SELECT records FROM cdr.window_fetch WHERE provider = %s AND account = %s",
                        (PROVIDER, source.account))
    return records


def stale_marks(url: str, source: ProviderAccount, target: str) -> list:
    return [day for (day,) in rows(url, "SELECT day FROM cdr.stale_day WHERE target = %s AND provider = %s"
                                        " AND account = %s ORDER BY day", (target, PROVIDER, source.account))]


def test_a_fetch_that_started_first_never_replaces_a_later_fetch_of_its_window(sim, source, warehouse_url):
    """Mechanism: the per-window fetch lock (locks.lock_window, taken by raw.land_window before
    its first request and held until the window's pages are committed).

    Interleaving: fetch A asks for the window and receives one answer; before A lands it, fetch B
    of the same window starts and receives a newer answer. Held: A at the landing of its page
    (the test's connection holds an uncommitted row with the very key of A's page, so A's insert
    waits for the test's transaction); B runs until it queues for A's fetch lock, or, without the
    lock, until it has committed. Then A is let go.

    With the lock B fetches only after A committed, so the window's latest fetch is B's, the one
    that asked last. Without it A commits after B and the window's pages go back to A's older
    answer (the next load would load it, undoing the newer data).
    """
    url = warehouse_url
    older, _ = changed_answer(source)  # A's answer: differs from what B will be served
    serve_next(sim, older)
    with psycopg.connect(url) as holder:
        # A's page, uncommitted: A's INSERT of the same key waits for this transaction to end.
        store_page(holder, PROVIDER, source.account, WINDOW,
                   FetchedPage(RETRIEVE_PATH, {}, 1, 200, "application/json", older.encode(), 0))

        def fetch(racer: Racer) -> list[int]:
            with closing(source.open_client(os.environ)) as client:
                return land_window(racer.connect, client, PROVIDER, WINDOW)[0]

        first = Racer(url, "fetch A", fetch)
        wait_until(url, waiting(first, "transactionid", "INSERT INTO cdr.raw_response"), first)
        second = Racer(url, "fetch B", fetch)
        wait_until(url, waiting_or_done(second, "advisory"), first)
        holder.rollback()  # A lands its page and commits; B, if it was waiting, fetches after
    a_ids, b_ids = first.result(), second.result()
    assert a_ids != b_ids, "A and B were served the same answer: the test proves nothing"
    assert window_fetch_ids(url, source) == b_ids, (
        f"the window's latest fetch is A's {a_ids}, which started first, not B's {b_ids}, which"
        " fetched later: an older fetch replaced a newer one")
    assert advisory_locks_held(url) == 0


def _first_load_without_refreshing_aggregates(url: str, source: ProviderAccount) -> None:
    """The day landed and loaded, its calls refreshed, its aggregates not yet: the aggregates
    mark of the day is there for a refresh to clear, and cdr.fact_call agrees with the legs."""
    land(url, source)
    load(lambda autocommit=False: psycopg.connect(url, autocommit=autocommit), source)
    with psycopg.connect(url) as conn:
        refresh(conn, source, "calls")
    assert stale_marks(url, source, "aggregates") == [PAST_DAY]


def test_a_leg_change_committed_while_a_refresh_clears_its_marks_stays_marked(sim, source, warehouse_url):
    """Mechanism: the leg-change locks (locks.exclude_leg_changes, exclusive, taken by each
    refresh transaction of aggregates.refresh_stale; locks.enter_leg_changes, shared, taken by
    each window transaction of load.load_windows).

    Interleaving: the refresh of the day's aggregates has recomputed them and is about to clear
    the day's stale mark when a load commits a changed leg of that day. Held: the refresh at its
    clearing (the test's connection locks the marks FOR UPDATE, so its DELETE waits; the load's
    ON CONFLICT DO NOTHING on the same mark does not); the load runs until it queues for the
    refresh's lock, or, without the locks, until it has committed. Then the refresh is let go.

    With the locks the load marks the day after the refresh cleared it: the mark survives and the
    next refresh recomputes the change. Without them the refresh clears the mark the load relied
    on (it was already there, so the load added none) although it never saw the change: the
    aggregates stay wrong and nothing says so.
    """
    url = warehouse_url
    _first_load_without_refreshing_aggregates(url, source)
    body, _ = changed_answer(source)
    serve_next(sim, body)
    land(url, source)  # the corrected answer, not yet loaded
    with psycopg.connect(url) as holder:
        holder.execute("SELECT 1 FROM cdr.stale_day WHERE target = 'aggregates' AND provider = %s"
                       " AND account = %s FOR UPDATE", (PROVIDER, source.account))

        def refresh_aggregates(racer: Racer) -> int:
            with racer.connect() as conn:
                return refresh(conn, source, "aggregates")

        refreshing = Racer(url, "refresh", refresh_aggregates)
        wait_until(url, waiting(refreshing, statement="DELETE FROM cdr.stale_day"), refreshing)
        loading = Racer(url, "load", lambda racer: load(racer.connect, source))
        wait_until(url, waiting_or_done(loading, "advisory"), refreshing)
        holder.rollback()  # the refresh clears its marks and commits; the load, if waiting, goes on
    assert refreshing.result() == 1
    assert loading.result()["call_legs_updated"] == 1
    assert stale_marks(url, source, "aggregates") == [PAST_DAY], (
        "the load's leg change was committed after the refresh recomputed the day, yet the"
        " refresh cleared the day's mark: no later refresh will recompute it")
    with psycopg.connect(url) as conn:  # the next run's refresh
        for target in ("calls", "aggregates"):
            refresh(conn, source, target)
    assert aggregate_mismatches(url) == 0
    assert advisory_locks_held(url) == 0


def test_a_refresh_during_a_load_of_a_leg_change_recomputes_with_the_change(sim, source, warehouse_url):
    """Mechanism: the leg-change locks, as above, the other way round.

    Interleaving: a load has merged a changed leg of the day (its stale mark already there, so it
    adds none) but not committed when the refresh of the day's aggregates starts. Held: the load
    before its commit (the test's connection locks the window's cdr.window_load row FOR UPDATE,
    which the load writes last); the refresh runs until it queues for the load's lock, or, without
    the locks, until it has committed. Then the load is let go.

    With the locks the refresh recomputes after the load committed, and so with the change.
    Without them it recomputes without the uncommitted change, then clears the mark: the
    aggregates miss the change for good.
    """
    url = warehouse_url
    _first_load_without_refreshing_aggregates(url, source)
    body, _ = changed_answer(source)
    serve_next(sim, body)
    land(url, source)
    with psycopg.connect(url) as holder:
        holder.execute("SELECT 1 FROM cdr.window_load WHERE provider = %s AND account = %s FOR UPDATE",
                       (PROVIDER, source.account))
        loading = Racer(url, "load", lambda racer: load(racer.connect, source))
        wait_until(url, waiting(loading, statement="INSERT INTO cdr.window_load"), loading)

        def refresh_aggregates(racer: Racer) -> int:
            with racer.connect() as conn:
                return refresh(conn, source, "aggregates")

        refreshing = Racer(url, "refresh", refresh_aggregates)
        wait_until(url, waiting_or_done(refreshing, "advisory"), loading)
        holder.rollback()  # the load commits; the refresh, if waiting, recomputes after it
    assert loading.result()["call_legs_updated"] == 1
    assert refreshing.result() == 1
    assert aggregate_mismatches(url) == 0, (
        "the refresh recomputed the day without the leg change the load was committing, and"
        " cleared its mark: the aggregates disagree with the legs")
    assert stale_marks(url, source, "aggregates") == []
    assert advisory_locks_held(url) == 0


def test_a_fetch_landing_after_the_background_parse_is_loaded_not_the_stale_parse(sim, source, warehouse_url):
    """Mechanism: the re-parse branch of load.load_windows (pages are parsed ahead, before the
    window's lock; under the lock the loader compares them with the window's current pages and,
    if a fetch landed since, parses the current pages instead).

    Interleaving: the load has read the window's pages (fetch 1) in its background parser; before
    it takes the window's locks, fetch 2 of the window lands with a changed leg. Held: the load at
    its first lock, the test's connection holding both the account's load lock and the leg-change
    lock exclusively (so the test holds it there even with either lock made a no-op, and fails
    only for its own mechanism); the background parser hands the loader a window only once it has
    read that window's page ids, so a loader queued for a lock has them. Fetch 2 lands meanwhile
    (a fetch takes the window's fetch lock, neither of these); then the load is let go.

    With the re-parse the warehouse holds fetch 2's legs and cdr.window_load records fetch 2's
    pages. Loading the stale parse instead would put fetch 1's legs in the warehouse while
    cdr.window_load claims fetch 2 was loaded, so no later run would ever correct them.
    """
    url = warehouse_url
    fetch_1 = land(url, source)
    body, changed_leg = changed_answer(source)
    with psycopg.connect(url) as holder:
        lock_account_loads(holder, PROVIDER, source.account)
        exclude_leg_changes(holder, PROVIDER, source.account)
        loading = Racer(url, "load", lambda racer: load(racer.connect, source))
        wait_until(url, waiting(loading, "advisory"), loading)
        serve_next(sim, body)
        fetch_2 = land(url, source)
        holder.rollback()
    assert fetch_2 != fetch_1
    assert loading.result()["call_legs_inserted"] == records_fetched(url, source)
    assert leg(url, source, changed_leg) == (CHANGED_COST, fetch_2[0]), (
        "the load merged the pages it had parsed ahead (fetch 1), not the window's current ones")
    assert {raw_id for (raw_id,) in rows(url, "SELECT DISTINCT raw_response_id FROM cdr.fact_call_leg")} \
        == set(fetch_2)
    assert window_load_ids(url, source) == fetch_2
    assert advisory_locks_held(url) == 0


def test_two_loads_of_an_account_commit_in_the_order_they_read_the_pages(sim, source, warehouse_url):
    """Mechanism: the account's load lock (locks.lock_account_loads, taken by every window
    transaction of load.load_windows before it reads the window's current pages).

    Interleaving: load 1 has read the window's current pages (fetch 1) and is staging its parsed
    legs when fetch 2 lands and load 2 of the same account starts. Held: load 1 in its COPY, by a
    gate in its parse callable (its background parser waits for the gate before its first leg;
    the database offers no pause point here that would not hold load 2 as well); load 2 runs until
    it queues for load 1's lock, or, without it, until it has committed. Then the gate opens.

    With the lock load 2 reads the current pages only after load 1 committed, and loads fetch 2
    over fetch 1. Without it load 2 merges fetch 2 first and load 1 then merges its older fetch 1
    over it: the warehouse goes back to the older values, and cdr.window_load records fetch 1.

    (The docstring of lock_account_loads gives another reason, a concurrent insert of the same
    key in MERGE; that case cannot arise for call legs as it stands, because every leg merge first
    takes cdr.ensure_call_leg_partitions' advisory lock, held until commit.)
    """
    url = warehouse_url
    fetch_1 = land(url, source)
    body, changed_leg = changed_answer(source)
    gate = threading.Event()

    def parse_after_gate(pages: Iterator[RawPage]) -> Iterator[Any]:
        assert gate.wait(TIMEOUT_S), "the gate never opened"
        yield from source.parse(pages)

    first = Racer(url, "load 1", lambda racer: load(racer.connect, source, parse_after_gate))
    try:
        wait_until(url, running(first, f'COPY "{CALL_LEGS.staging_table}"'), first)
        serve_next(sim, body)
        fetch_2 = land(url, source)
        second = Racer(url, "load 2", lambda racer: load(racer.connect, source))
        wait_until(url, waiting_or_done(second, "advisory"), first)
    finally:
        gate.set()  # a failed wait must not leave load 1 holding its locks into the next test
    first.result()
    second.result()
    assert fetch_2 != fetch_1
    assert leg(url, source, changed_leg) == (CHANGED_COST, fetch_2[0]), (
        "load 1 merged fetch 1, read before fetch 2 landed, after load 2 had merged fetch 2")
    assert window_load_ids(url, source) == fetch_2 == window_fetch_ids(url, source)
    assert advisory_locks_held(url) == 0
