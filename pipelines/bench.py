"""`make bench`: how fast provider bodies become fact rows and aggregates, against PostgreSQL's
own ceiling, and how much memory that takes.

One run on the warehouse server (embedded unless CDR_WAREHOUSE_URL is set), in a scratch
database `cdr_bench` that it drops and recreates. For each provider (TENIOS JSON pages,
Belfabriek XML, MIXvoip CSV by default):

1. fetch N legs over D days from the provider's simulator (a separate process, real HTTP) and
   land them in cdr.raw_response exactly as the Dagster raw asset does; timed as the fetch
   figure, sequentially, then once more with bounded concurrency across days;
2. time the project's path, raw bodies -> parsed legs -> COPY -> guarded MERGE -> calls,
   aggregates and the BI mart, on an empty fact table; then again on identical data (0 rows must
   be rewritten), as it runs (unchanged days skipped) and forced to parse and merge every day
   again; and the mart's refresh of one day on its own;
3. time the reference on the same legs: COPY of already-parsed rows into a staging table and a
   guarded MERGE into an empty copy of the fact table, the ceiling for any deduplicating loader;
   with `--peers dlt` (`make bench PEERS=dlt`), also dlt's merge of the same parsed legs
   (pipelines/bench_peers.py), the loader users would pick instead;
4. print a table and write the figures as JSON (.bench/results.json).

Then one more stage (`--skip-rate-limit` leaves it out, `--only-rate-limit` runs it alone), the
nightly pull against a provider that enforces a request rate, as a share of the ceiling that rate
implies: see `rate_limited_pull` below.

Peak RSS per stage is this process's VmHWM, reset between stages through /proc/self/clear_refs;
the simulators run in their own process so their memory is not counted.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import closing
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
import psycopg
from psycopg import sql

from pipelines.assets.derived import account_rows
from pipelines.config import ProviderAccount, account_from_env, fresh_months_from_env, read_accounts_file
from pipelines.model import LEG_COLUMNS, CallLeg
from pipelines.partitions import day_window
from pipelines.providers.spec import CALL_LEGS
from pipelines.registry import registry
from pipelines.report import ReportRequest, write_report
from pipelines.simulators import accounts_file, running_simulators
from pipelines.sql import run_script, script_result, sql_file
from pipelines.warehouse.aggregates import RefreshBehind, refresh_stale
from pipelines.warehouse.connection import PROJECT_ROOT, connector, ensure_database, start_embedded
from pipelines.warehouse.load import FreshMonth, load_windows, window_month
from pipelines.warehouse.mart import enrich_new_numbers, refresh_mart
from pipelines.warehouse.migrate import migrate
from pipelines.warehouse.pacing import DatabasePacing
from pipelines.warehouse.raw import land_window, window_pages

BENCH_DATABASE = "cdr_bench"
FIRST_LOAD = "project: first load (raw -> fact + calls + aggregates + mart)"
MART_REFRESH = "mart refresh of one day (KPIs, accounts, dates)"
NUMBER_ENRICHMENT = "number enrichment of one day (every number new)"
DLT_FIRST_LOAD = "peer: dlt merge, first load (raw -> parsed legs -> dlt)"
REFERENCE = "reference: COPY + guarded MERGE (pre-parsed)"
FRESH_LOAD = "fresh month: COPY into a new partition + keys after (pre-parsed)"
PEERS = ("dlt",)
FIRST_DAY = date(2026, 1, 1)
# What each provider is asked for: its most demanding documented format.
# MIXvoip: the simulator's own END_DATE reading (inclusive), which its accounts declare, so each
# record is fetched once (docs/providers/mixvoip.md).
PROVIDER_ENVIRONMENT = {"tenios": {"TENIOS_PAGE_SIZE": "1000"},
                        "mixvoip": {"MIXVOIP_FORMAT": "csv", "MIXVOIP_END_DATE": "inclusive"},
                        "belfabriek": {"BELFABRIEK_REQUESTS_PER_SECOND": "1000"}}


def peak_rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine_busy_s() -> float:
    """The CPU seconds every process of the machine has used since boot (/proc/stat: user, nice,
    system, irq, softirq, steal), so that a stage's figure counts the server's work beside its own."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (ticks + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


@dataclass
class Stage:
    provider: str
    name: str
    legs: int
    seconds: float
    peak_rss_mib: float
    rewritten: int | None = None
    pages: int | None = None
    # CPU seconds the machine used while the stage ran (its process and the server's), for a stage
    # timed whole; None for one that times only part of its work.
    cpu_s: float | None = None

    @property
    def legs_per_s(self) -> float:
        return self.legs / self.seconds if self.seconds else float("inf")


def _run_timed(function_name: str, args: tuple) -> tuple[float, int | None, float, float | None]:
    """In the child process: run one stage; (seconds, rows rewritten, peak RSS MiB, CPU seconds)."""
    started, busy = time.perf_counter(), machine_busy_s()
    outcome = globals()[function_name](*args)
    seconds = time.perf_counter() - started
    cpu_s: float | None = machine_busy_s() - busy
    if isinstance(outcome, tuple):  # a stage that times only part of itself
        (seconds, outcome), cpu_s = outcome, None
    return seconds, outcome, peak_rss_mib(), cpu_s


def measure(provider: str, name: str, legs: int, function_name: str, *args) -> Stage:
    """Run a stage in a fresh process, so its peak RSS is its own and not what earlier stages
    (or their allocator arenas) left behind, as it is in production where Dagster runs each step
    in its own process."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        seconds, rewritten, peak, cpu_s = pool.submit(_run_timed, function_name, args).result()
    print(f"{provider}: {name}: {seconds:.2f} s", flush=True)  # a run stopped part-way still shows these
    return Stage(provider, name, legs, seconds, peak, rewritten, cpu_s=cpu_s)


class Simulators:
    """The simulators in a child process (`cdr-etl simulate --any-port`), so the figures are the client's."""

    def __init__(self, names: list[str], legs_per_day: int):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "simulate", "--any-port", "--providers", ",".join(names),
             "--legs-per-day", str(legs_per_day)], stdout=subprocess.PIPE, text=True)
        self.urls: dict[str, str] = {}
        assert self.process.stdout is not None  # stdout=PIPE
        while len(self.urls) < len(names):
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("the simulators did not start")
            name, url = line.strip().split(": ", 1)
            self.urls[name] = url

    def environment(self, name: str) -> dict[str, str]:
        spec = registry()[name]
        return {**spec.simulator(None).environment, spec.base_url_variable: self.urls[name],
                **PROVIDER_ENVIRONMENT.get(name, {})}

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def provider_account(name: str) -> ProviderAccount:
    """The provider's account as the pipeline reads it: from the environment (the simulator's
    variables and PROVIDER_ENVIRONMENT, set before this is called)."""
    return account_from_env(registry()[name], os.environ)


def open_client(name: str, environment: dict[str, str]):
    os.environ.update(environment)
    return provider_account(name).open_client(os.environ)


def land(url: str, name: str, environment: dict, days: list[date], workers: int) -> tuple[int, int]:
    """Fetch and land every day, `workers` runs of consecutive days at once, each run through one
    client as the raw-pages asset fetches a range (so a client may reuse what it fetched for the
    day before: MIXvoip with a known END_DATE reading); returns (pages, legs)."""
    size = math.ceil(len(days) / workers)

    def one_run(run: list[date]) -> tuple[int, int]:
        pages = records = 0
        with open_client(name, environment) as client:
            for day in run:
                raw_ids, landed, _ = land_window(connector(url), client, name, day_window(day.isoformat()))
                pages, records = pages + len(raw_ids), records + landed
        return pages, records

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one_run, [days[i:i + size] for i in range(0, len(days), size)]))
    return sum(p for p, _ in results), sum(n for _, n in results)


def project_load(url: str, name: str, account: str, days: list[date], force: bool = False) -> int:
    """The project's own path, as the Dagster assets run it: legs day by day (parsing the next
    day while this one merges; a day whose pages were already loaded unchanged is skipped), the
    calls and aggregates of the days each day settles recomputed behind it, then the mart; a month
    with no legs yet loaded as a partition of its own (load.FreshMonth) only if the asset would
    (CDR_FRESH_MONTHS, read as Configuration reads it).
    Returns fact rows rewritten (inserted + updated) of the provider's primary kind (its legs)."""
    provider = provider_account(name)
    kinds = provider.spec.items
    whole_range = (day_window(days[0].isoformat())[0], day_window(days[-1].isoformat())[1])
    windows = [day_window(day.isoformat()) for day in days]
    with RefreshBehind(connector(url), name, account, whole_range[0] - timedelta(days=1)) as behind:
        totals = load_windows(connector(url), name, account, kinds, windows,
                              parse=lambda pages: provider.parse(pages, account),
                              parser_version=provider.parser_version, force=force,
                              on_loaded=lambda window, _: behind.loaded(window),
                              fresh_months=fresh_months_from_env(os.environ))
        with psycopg.connect(url) as conn:
            behind.finish(conn, whole_range[1])
            enrich_new_numbers(conn, whole_range)
            refresh_mart(conn, whole_range, list(account_rows([provider])))
    primary = kinds[0].name
    return totals.get(f"{primary}_inserted", 0) + totals.get(f"{primary}_updated", 0)


def forced_project_load(url: str, name: str, account: str, days: list[date]) -> int:
    """The same as CDR_FORCE_RELOAD=1 runs it: every day parsed and merged again (the guarded MERGE)."""
    return project_load(url, name, account, days, force=True)


def derived_refresh(url: str, day: date, target: str) -> None:
    with psycopg.connect(url) as conn:
        refresh_stale(conn, target, day_window(day.isoformat()), full=True)


def mart_refresh(url: str, name: str, day: date) -> tuple[float, None]:
    """The mart asset's work after one day's load: the accounts and dates, and the KPIs of the
    local dates the day touches. The day is first marked stale for the mart, as the calls refresh
    of its load marks it (not timed); then the refresh is timed as the asset runs it."""
    provider = provider_account(name)
    window = day_window(day.isoformat())
    with psycopg.connect(url) as conn:
        conn.execute(sql_file("aggregates/mark_all_stale.sql"),
                     {"target": "mart", "provider": name, "account": provider.account,
                      "first": day, "last": day + timedelta(days=1)})
        conn.commit()
        started = time.perf_counter()
        marks = refresh_mart(conn, window, list(account_rows([provider])))
        seconds = time.perf_counter() - started
    assert marks, f"{name}: the mart refresh of {day} recomputed nothing"
    return seconds, None


def number_enrichment(url: str, day: date) -> tuple[float, None]:
    """The number_dimension asset's work after one day's load, at its most: every number of the
    day enriched as if none had been seen before. Only the enrichment is timed."""
    window = day_window(day.isoformat())
    with psycopg.connect(url) as conn:
        conn.execute(sql_file("bench/forget_numbers.sql"), {"from": window[0], "to": window[1]})
        conn.commit()
        started = time.perf_counter()
        enrich_new_numbers(conn, window)
        return time.perf_counter() - started, None


REPORT_ACCOUNTS = 200


def report_build(url: str, names: list[str], days: list[date], copies: int) -> tuple[float, int]:
    """The HTML report of every day, from the mart: the mart refreshed first (not timed), each of
    its accounts copied `copies` times (sql/bench/report_accounts.sql); then the report written
    (timed). Returns (seconds, the file's bytes)."""
    with psycopg.connect(url) as conn:
        refresh_mart(conn, (day_window(days[0].isoformat())[0], day_window(days[-1].isoformat())[1]),
                     list(account_rows([provider_account(name) for name in names])), full=True)
        if copies:
            run_script(conn, "bench/report_accounts.sql", {"copies": copies})
        conn.commit()
        with TemporaryDirectory() as scratch:
            written = write_report(conn, ReportRequest(days[0], days[-1]), Path(scratch) / "report.html")
    return written.seconds, written.bytes


def parsed_legs(reader: psycopg.Connection, provider: ProviderAccount, window: tuple) -> list[CallLeg]:
    """The legs the provider's parser makes of a window's landed bodies (not its other kinds)."""
    return [item for item in provider.parse(window_pages(reader, provider.provider, provider.account, window),
                                            provider.account) if type(item) is CallLeg]


def dlt_load(url: str, name: str, days: list[date], fresh_target: bool = True) -> tuple[float, int]:
    """The peer (`--peers dlt`): the legs the project's parsers make of the same landed bodies,
    day by day, loaded by dlt's merge into a schema of its own (pipelines.bench_peers); parsing
    timed as in the project's first load. Returns (seconds, rows in dlt's table)."""
    # dlt is the optional extra `peers`: imported only when this stage runs, in its own process.
    from pipelines import bench_peers  # noqa: PLC0415

    provider = provider_account(name)
    if fresh_target:
        bench_peers.fresh_target(url)
    with psycopg.connect(url, autocommit=True) as reader:
        started = time.perf_counter()
        legs_by_day = (parsed_legs(reader, provider, day_window(day.isoformat())) for day in days)
        bench_peers.dlt_merge(url, legs_by_day)
        seconds = time.perf_counter() - started
    return seconds, bench_peers.rows_loaded(url)


def stage_parsed(writer: psycopg.Connection, legs: list[CallLeg]) -> None:
    """Already-parsed legs into the load path's staging table, by its binary COPY."""
    copy_types = CALL_LEGS.copy_types  # the load path's binary COPY types, column for column
    assert copy_types is not None
    writer.execute(sql_file("load/stage_call_legs.sql"))
    statement = f"COPY stage_call_leg ({', '.join(LEG_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    with writer.cursor().copy(statement) as copy:
        copy.set_types(copy_types)
        for leg in legs:
            copy.write_row(leg)


def reference_load(url: str, name: str, account: str, days: list[date],
                   fresh_target: bool) -> tuple[float, int]:
    """Binary COPY of already-parsed legs into a staging table and one guarded MERGE per day into
    an empty copy of the fact table; only COPY and MERGE are timed, not parsing."""
    provider = provider_account(name)
    elapsed, rewritten = 0.0, 0
    with psycopg.connect(url, autocommit=True) as reader, psycopg.connect(url) as writer:
        if fresh_target:
            writer.execute(sql_file("bench/reference_target.sql"))
            writer.commit()
        for day in days:
            window = day_window(day.isoformat())
            legs = parsed_legs(reader, provider, window)
            started = time.perf_counter()
            with writer.transaction():
                stage_parsed(writer, legs)
                rewritten += writer.execute(sql_file("bench/reference_merge.sql")).rowcount
            elapsed += time.perf_counter() - started
            del legs
    return elapsed, rewritten


def fresh_load(url: str, name: str, account: str, days: list[date]) -> tuple[float, int]:
    """The project's initial-backfill path (load.FreshMonth) on the legs the reference loads,
    timed as the reference is: binary COPY of already-parsed legs, day by day, each day's legs
    collected into its month, then the month's partition made, its keys built and attached, and
    committed; parsing not timed. The fact is emptied first (not timed; it holds this provider's
    legs only, sql/bench/empty_loaded.sql) and holds the same legs again after. Returns (seconds,
    legs inserted)."""
    provider = provider_account(name)
    elapsed, inserted = 0.0, 0
    with psycopg.connect(url, autocommit=True) as reader, psycopg.connect(url) as writer:
        writer.execute(sql_file("bench/empty_fact.sql"))
        writer.commit()
        windows = [day_window(day.isoformat()) for day in days]
        for month in dict.fromkeys(map(window_month, windows)):
            assert month is not None  # day windows are UTC days: each lies in one month
            started = time.perf_counter()
            fresh = FreshMonth(writer, name, account, month)
            elapsed += time.perf_counter() - started
            for window in (w for w in windows if window_month(w) == month):
                legs = parsed_legs(reader, provider, window)
                started = time.perf_counter()
                stage_parsed(writer, legs)
                fresh.collect(writer, window, set(), None)
                elapsed += time.perf_counter() - started
                del legs
            started = time.perf_counter()
            attached, counts = fresh.finish(writer)
            writer.commit()
            elapsed += time.perf_counter() - started
            assert attached, f"{month[0]:%Y-%m} was merged, not loaded as a partition of its own"
            inserted += sum(c.inserted for c in counts)
    return elapsed, inserted


def bench_provider(url: str, sims: Simulators, name: str, days: list[date],
                   peers: tuple[str, ...] = ()) -> list[Stage]:
    environment = sims.environment(name)
    os.environ.update(environment)  # before the account is read, here and in each measured stage
    account = provider_account(name).account
    print(f"{name}: fetching {len(days)} days from the simulator ...", flush=True)
    stages = []
    pages = legs = 0
    for workers in (1, 4):
        with psycopg.connect(url) as conn:  # both fetches land the same pages: start each from empty
            conn.execute(sql_file("bench/empty_raw.sql"))
        reset_peak_rss()
        started = time.perf_counter()
        pages, legs = land(url, name, environment, days, workers)
        stages.append(Stage(name, f"fetch + land over HTTP, {workers} day(s) at a time", legs,
                            time.perf_counter() - started, peak_rss_mib(), pages=pages))
    with psycopg.connect(url) as conn:
        conn.execute(sql_file("bench/empty_loaded.sql"))
    print(f"{name}: {legs:,} records in {pages:,} bodies; loading ...", flush=True)
    first = measure(name, FIRST_LOAD, 0, "project_load",
                    url, name, account, days)
    with psycopg.connect(url) as conn:
        legs = script_result(conn, "bench/legs_loaded.sql", {"provider": name})[0]
    first.legs = legs
    stages.append(first)
    stages.append(measure(name, "project: identical re-run", legs, "project_load", url, name, account, days))
    stages.append(measure(name, "project: identical re-run, forced re-merge", legs, "forced_project_load",
                          url, name, account, days))
    middle = days[len(days) // 2]
    per_day = legs // len(days)
    stages.append(measure(name, "aggregates refresh of one day (hourly + daily)", per_day, "derived_refresh",
                          url, middle, "aggregates"))
    stages.append(measure(name, "calls assembly of one day", per_day, "derived_refresh",
                          url, middle, "calls"))
    stages.append(measure(name, MART_REFRESH, per_day, "mart_refresh", url, name, middle))
    stages.append(measure(name, NUMBER_ENRICHMENT, per_day, "number_enrichment", url, middle))
    # the fact emptied and loaded again, as a fresh month: what follows reads the reference's own table
    stages.append(measure(name, FRESH_LOAD, legs, "fresh_load", url, name, account, days))
    stages.append(measure(name, REFERENCE, legs, "reference_load",
                          url, name, account, days, True))
    stages.append(measure(name, "reference: identical re-run", legs, "reference_load",
                          url, name, account, days, False))
    if "dlt" in peers:
        stages.append(measure(name, DLT_FIRST_LOAD, legs, "dlt_load", url, name, days))
    return stages


# The rate-limited nightly pull (issue 12). The provider: Belfabriek, the one that paces its
# requests per account (docs/rate-limits.md). Its simulator enforces RATE requests a second per
# account (more within any one second get error 5); the run fetches the nightly pull, the raw pages
# of NIGHTLY_DAYS days for each of RATE_ACCOUNTS accounts, one request per account and day (no
# service numbers configured), with up to RATE_PARALLEL accounts at once (what the provider's
# Dagster pool allows: one raw-pages step per account at a time).
#
# The ceiling: an account's n = NIGHTLY_DAYS requests need at least (n - 1) / RATE seconds between
# its first and its last (no two of them within one second at RATE = 1), and the next account in
# the same slot may start the moment the last one's final request goes out; requests themselves
# take no time. So the least time the limits allow is ceil(accounts / parallel) * (n - 1) / RATE
# (100 accounts, 4 at once, 3 days, 1/s: 25 * 2 s = 50 s), and the ceiling is the requests needed
# (accounts * n) over that time. The figure is the requests over the measured time; the ratio is the
# figure over the ceiling, i.e. least time / measured time. The pipeline paces with 10% headroom
# (PACING_HEADROOM), so it cannot pass 1 / 1.1 = 0.91 of this ceiling; the rest is latency and
# landing (connect, lock, store, commit) between an account's requests and between accounts.
RATE_PROVIDER = "belfabriek"
RATE_ACCOUNTS = 100
NIGHTLY_DAYS = 3
RATE_PER_SECOND = 1.0
RATE_PARALLEL = 4


@dataclass
class RatePull:
    accounts: int
    days: int
    per_second: float
    parallel: int
    requests: int
    seconds: float
    least_seconds: float
    requests_served: int
    max_requests_per_second: int
    records: int

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds

    @property
    def ceiling_requests_per_s(self) -> float:
        return self.requests / self.least_seconds

    @property
    def ratio(self) -> float:
        return self.least_seconds / self.seconds


def _serve_accounts(accounts: int, connection, stop) -> None:
    """In the simulator's own process: serve `accounts` Belfabriek accounts until `stop` is set."""
    with running_simulators([RATE_PROVIDER], accounts_per_provider=accounts) as running:
        connection.send((running[RATE_PROVIDER], running.accounts[RATE_PROVIDER]))
        stop.wait()


def rate_limited_pull(url: str, accounts: int = RATE_ACCOUNTS, days: int = NIGHTLY_DAYS,
                      per_second: float = RATE_PER_SECOND, parallel: int = RATE_PARALLEL) -> RatePull:
    """The nightly pull of `accounts` accounts against a simulator enforcing `per_second` per
    account, as the raw-pages asset runs it: each account's client paced through the database
    (DatabasePacing), each day landed by land_window; `parallel` accounts at once (threads here,
    Dagster's steps in production). The simulator runs in its own process."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    stop = context.Event()
    server = context.Process(target=_serve_accounts, args=(accounts, sender, stop), daemon=True)
    server.start()
    try:
        if not receiver.poll(60):
            raise RuntimeError("the rate-limited simulator did not start")
        base_url, served = receiver.recv()
        httpx.post(f"{base_url}/_sim/reset").raise_for_status()
        httpx.post(f"{base_url}/_sim/rate_limit", json={"per_second": per_second}).raise_for_status()
        # the accounts as an operator lists them (docs/accounts.md), each at the enforced rate
        served = tuple(replace(account, options={**account.options, "requests_per_second": str(per_second)})
                       for account in served)
        text, secrets = accounts_file({RATE_PROVIDER: served})
        environ = {**os.environ, **secrets}
        with TemporaryDirectory() as scratch:
            path = Path(scratch) / "cdr-accounts.toml"
            path.write_text(text)
            sources = read_accounts_file(path, registry(), environ)
        windows = [day_window((FIRST_DAY + timedelta(days=i)).isoformat()) for i in range(days)]
        connect = connector(url)

        def pull(source: ProviderAccount) -> int:
            records = 0
            with closing(DatabasePacing(connect, RATE_PROVIDER, source.account)) as pacing, \
                    closing(source.open_client(environ, pacing)) as client:
                for window in windows:
                    records += land_window(connect, client, RATE_PROVIDER, window,
                                           source.settings.http.window_attempts)[1]
            return records

        print(f"{RATE_PROVIDER}: nightly pull of {accounts} accounts x {days} days at {per_second:g}"
              f" request/s per account, {parallel} accounts at once ...", flush=True)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            records = sum(pool.map(pull, sources))
        seconds = time.perf_counter() - started
        stats = httpx.get(f"{base_url}/_sim/stats").json()
    finally:
        stop.set()
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()
    least = math.ceil(accounts / parallel) * (days - 1) / per_second
    per_account = stats["max_requests_per_second"]
    return RatePull(accounts, days, per_second, parallel, accounts * days, seconds, least,
                    stats["requests_served"], max(per_account.values(), default=0), records)


def rate_report(pull: RatePull) -> dict:
    print(f"\n{RATE_PROVIDER}: nightly pull, {pull.accounts} accounts x {pull.days} days at"
          f" {pull.per_second:g} request/s per account, {pull.parallel} accounts at once:"
          f" {pull.requests} requests in {pull.seconds:.1f} s = {pull.requests_per_s:.2f} requests/s"
          f" = {pull.ratio:.2f}x the ceiling ({pull.ceiling_requests_per_s:.2f} requests/s, least time"
          f" {pull.least_seconds:.0f} s); the simulator answered {pull.requests_served} requests, at most"
          f" {pull.max_requests_per_second} of one account within a second")
    return {**asdict(pull), "requests_per_s": pull.requests_per_s,
            "ceiling_requests_per_s": pull.ceiling_requests_per_s, "ratio_to_ceiling": pull.ratio}


def stage_record(stage: Stage) -> dict:
    """A stage as .bench/results.json holds it."""
    return {**asdict(stage), "legs_per_s": stage.legs_per_s}


def report(stages: list[Stage], days: int) -> dict:
    print()
    print(f"{'provider':<11}{'stage':<56}{'legs':>11}{'seconds':>9}{'legs/s':>10}{'rewritten':>11}"
          f"{'RSS MiB':>9}")
    for s in stages:
        rewritten = "" if s.rewritten is None else f"{s.rewritten:,}"
        print(f"{s.provider:<11}{s.name:<56}{s.legs:>11,}{s.seconds:>9.2f}{s.legs_per_s:>10,.0f}{rewritten:>11}"
              f"{s.peak_rss_mib:>9.0f}")
    summary = {}
    print()
    for provider in dict.fromkeys(s.provider for s in stages):
        by_name = {s.name: s for s in stages if s.provider == provider}
        first = by_name[FIRST_LOAD]
        rerun = by_name["project: identical re-run"]
        reference = by_name[REFERENCE]
        refresh = by_name["aggregates refresh of one day (hourly + daily)"]
        assembly = by_name["calls assembly of one day"]
        mart = by_name[MART_REFRESH]
        numbers = by_name[NUMBER_ENRICHMENT]
        day_load = first.seconds / days
        summary[provider] = {
            "first_load_legs_per_s": first.legs_per_s, "rerun_legs_per_s": rerun.legs_per_s,
            "first_load_vs_reference": first.legs_per_s / reference.legs_per_s,
            "rerun_rows_rewritten": rerun.rewritten,
            # the project's own stages: a peer's memory is the peer's (below)
            "peak_rss_mib": max(s.peak_rss_mib for s in by_name.values() if s.name != DLT_FIRST_LOAD),
            "aggregates_refresh_share_of_day_load": refresh.seconds / day_load,
            "calls_assembly_share_of_day_load": assembly.seconds / day_load,
            "mart_refresh_share_of_day_load": mart.seconds / day_load,
            "number_enrichment_share_of_day_load": numbers.seconds / day_load,
        }
        figures = summary[provider]
        cpu = ""
        if first.cpu_s:
            # However well its parts overlapped, the first load cannot take less than its CPU
            # seconds spread over every core: the best ratio to the reference this work allows.
            cores = os.cpu_count() or 1
            figures["first_load_cpu_s"] = first.cpu_s
            figures["first_load_cores_busy"] = first.cpu_s / first.seconds
            figures["first_load_cpu_bound_vs_reference"] = (
                first.legs / (first.cpu_s / cores) / reference.legs_per_s)
            best = figures["first_load_cpu_bound_vs_reference"]
            cpu = (f" its CPU work ({first.cpu_s:.1f} CPU-s, {figures['first_load_cores_busy']:.2f} of"
                   f" {cores} cores busy) allows at best {best:.2f}x;")
        fresh = ""
        if FRESH_LOAD in by_name:
            figures["fresh_vs_reference"] = by_name[FRESH_LOAD].legs_per_s / reference.legs_per_s
            fresh = (f" a fresh month {by_name[FRESH_LOAD].legs_per_s:,.0f} legs/s ="
                     f" {figures['fresh_vs_reference']:.2f}x the reference"
                     f" ({reference.legs_per_s:,.0f} legs/s);")
        if DLT_FIRST_LOAD in by_name:
            dlt = by_name[DLT_FIRST_LOAD]
            figures["first_load_vs_dlt"] = first.legs_per_s / dlt.legs_per_s
            figures["dlt_peak_rss_mib"] = dlt.peak_rss_mib
            print(f"{provider}: first load = {figures['first_load_vs_dlt']:.2f}x dlt's merge"
                  f" ({dlt.legs_per_s:,.0f} legs/s, {dlt.rewritten:,} rows in its table)")
        print(f"{provider}: first load {first.legs_per_s:,.0f} legs/s ="
              f" {figures['first_load_vs_reference']:.2f}x the reference;{cpu}{fresh}"
              f" re-run {rerun.legs_per_s:,.0f} legs/s rewrote {rerun.rewritten:,} rows;"
              f" one day's aggregates refresh = {refresh.seconds / day_load:.0%} and calls assembly ="
              f" {assembly.seconds / day_load:.0%}, the mart's refresh {mart.seconds / day_load:.0%}"
              f" and the enrichment of its numbers {numbers.seconds / day_load:.0%} of a day's load;"
              f" peak RSS {figures['peak_rss_mib']:.0f} MiB")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legs", type=int, default=1_000_000, help="legs per provider")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--providers", default="tenios,belfabriek,mixvoip")
    parser.add_argument("--output", default=str(PROJECT_ROOT / ".bench" / "results.json"))
    parser.add_argument("--peers", default="", help=f"comma-separated, of: {', '.join(PEERS)}: the same legs"
                        " loaded by another loader (the optional extra `peers`), timed beside the project")
    parser.add_argument("--database", default=BENCH_DATABASE,
                        help="the scratch database, dropped and recreated (two benches at once need two)")
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--skip-rate-limit", action="store_true",
                      help="leave out the rate-limited nightly pull (about a minute)")
    rate.add_argument("--only-rate-limit", action="store_true",
                      help="run only the rate-limited nightly pull")
    parser.add_argument("--rate-accounts", type=int, default=RATE_ACCOUNTS)
    parser.add_argument("--rate-parallel", type=int, default=RATE_PARALLEL, help="accounts at once")
    parser.add_argument("--rate-per-second", type=float, default=RATE_PER_SECOND,
                        help="requests a second per account, enforced by the simulator")
    args = parser.parse_args(argv)
    if args.rate_accounts < 1 or args.rate_parallel < 1 or args.rate_per_second <= 0:
        parser.error("--rate-accounts, --rate-parallel and --rate-per-second must be positive")
    names = [] if args.only_rate_limit else [n for n in args.providers.split(",") if n]
    peers = tuple(p for p in args.peers.split(",") if p)
    if unknown := sorted(set(peers) - set(PEERS)):
        parser.error(f"--peers: unknown {', '.join(unknown)}; known: {', '.join(PEERS)}")
    if peers and importlib.util.find_spec("dlt") is None:  # now, not after every other stage ran
        parser.error("--peers dlt: dlt is not installed: pip install -e '.[peers]'"
                     " (make bench PEERS=dlt does)")

    server = os.environ.get("CDR_WAREHOUSE_URL") or start_embedded()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.database)))
    url = ensure_database(server, args.database)
    migrate(url)
    days = [FIRST_DAY + timedelta(days=i) for i in range(args.days)]
    stages: list[Stage] = []
    if names:
        sims = Simulators(names, max(1, args.legs // args.days))
        try:
            stages = [stage for name in names for stage in bench_provider(url, sims, name, days, peers)]
        finally:
            sims.close()
    summary = report(stages, args.days) if stages else {}
    if stages:  # the report of the loaded days, then of as many days for REPORT_ACCOUNTS accounts
        legs = sum(s.legs for s in stages if s.name.startswith("project: first load"))
        for copies in (0, math.ceil(REPORT_ACCOUNTS / len(names)) - 1):
            accounts = len(names) * (copies + 1)
            built = measure("report", "report", legs, "report_build", url, names, days, copies)
            size = built.rewritten or 0
            print(f"report: {args.days} days, {accounts} accounts, {legs:,} legs: written in"
                  f" {built.seconds:.2f} s, {size / 1e6:.2f} MB (the mart's refresh before it not timed)")
            summary[f"report_{'many' if copies else 'loaded'}_accounts"] = {
                "accounts": accounts, "seconds": built.seconds, "bytes": size,
                "peak_rss_mib": built.peak_rss_mib}
    # After the report: the pull lands 100 more accounts' windows, which the report's copies of
    # every account would multiply (its data-quality section listed ~6,800 accounts for "200").
    pull = None if args.skip_rate_limit else rate_limited_pull(
        url, args.rate_accounts, NIGHTLY_DAYS, args.rate_per_second, args.rate_parallel)
    if pull is not None:
        summary["rate_limited_pull"] = rate_report(pull)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"legs_per_provider": args.legs, "days": args.days,
                                  "measured_on": datetime.now(UTC).date().isoformat(), "cpus": os.cpu_count(),
                                  "summary": summary,
                                  "stages": [stage_record(s) for s in stages]},
                                 indent=2))
    print(f"\nfigures written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
