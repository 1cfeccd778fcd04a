"""`make bench`: how fast provider bodies become fact rows and aggregates, against PostgreSQL's
own ceiling, and how much memory that takes.

One run on the warehouse server (embedded unless CDR_WAREHOUSE_URL is set), in a scratch
database `cdr_bench` that it drops and recreates. For each provider (TENIOS JSON pages,
Belfabriek XML, MIXvoip CSV by default):

1. fetch N legs over D days from the provider's simulator (a separate process, real HTTP) and
   land them in cdr.raw_response exactly as the Dagster raw asset does; timed as the fetch
   figure, sequentially, then once more with bounded concurrency across days;
2. time the project's path, raw bodies -> parsed legs -> COPY -> guarded MERGE -> calls and
   aggregates, on an empty fact table; then again on identical data (0 rows must be rewritten),
   as it runs (unchanged days skipped) and forced to parse and merge every day again;
3. time the reference on the same legs: COPY of already-parsed rows into a staging table and a
   guarded MERGE into an empty copy of the fact table, the ceiling for any deduplicating loader;
4. print a table and write the figures as JSON (.bench/results.json).

Peak RSS per stage is this process's VmHWM, reset between stages through /proc/self/clear_refs;
the simulators run in their own process so their memory is not counted.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg

from pipelines.config import ProviderAccount, account_from_env
from pipelines.model import LEG_COLUMNS, CallLeg
from pipelines.partitions import day_window
from pipelines.providers.spec import CALL_LEGS
from pipelines.registry import registry
from pipelines.sql import script_result, sql_file
from pipelines.warehouse.aggregates import refresh_stale
from pipelines.warehouse.connection import PROJECT_ROOT, ensure_database, start_embedded
from pipelines.warehouse.load import load_windows
from pipelines.warehouse.migrate import migrate
from pipelines.warehouse.raw import land_window, window_pages

BENCH_DATABASE = "cdr_bench"
FIRST_DAY = date(2026, 1, 1)
# What each provider is asked for: its most demanding documented format.
PROVIDER_ENVIRONMENT = {"tenios": {"TENIOS_PAGE_SIZE": "1000"}, "mixvoip": {"MIXVOIP_FORMAT": "csv"},
                        "belfabriek": {"BELFABRIEK_REQUESTS_PER_SECOND": "1000"}}


def peak_rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


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

    @property
    def legs_per_s(self) -> float:
        return self.legs / self.seconds if self.seconds else float("inf")


def _run_timed(function_name: str, args: tuple) -> tuple[float, int | None, float]:
    """In the child process: run one stage; (seconds, rows rewritten, peak RSS MiB)."""
    started = time.perf_counter()
    outcome = globals()[function_name](*args)
    seconds = time.perf_counter() - started
    if isinstance(outcome, tuple):  # a stage that times only part of itself
        seconds, outcome = outcome
    return seconds, outcome, peak_rss_mib()


def measure(provider: str, name: str, legs: int, function_name: str, *args) -> Stage:
    """Run a stage in a fresh process, so its peak RSS is its own and not what earlier stages
    (or their allocator arenas) left behind, as it is in production where Dagster runs each step
    in its own process."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        seconds, rewritten, peak = pool.submit(_run_timed, function_name, args).result()
    return Stage(provider, name, legs, seconds, peak, rewritten)


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


def connector(url: str):
    def connect(autocommit: bool = False):
        return psycopg.connect(url, autocommit=autocommit)
    return connect


def land(url: str, name: str, environment: dict, days: list[date], workers: int) -> tuple[int, int]:
    """Fetch and land every day; returns (pages, legs)."""
    def one_day(day: date) -> tuple[int, int]:
        with open_client(name, environment) as client:
            raw_ids, records, _ = land_window(connector(url), client, name, day_window(day.isoformat()))
            return len(raw_ids), records

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one_day, days))
    return sum(p for p, _ in results), sum(n for _, n in results)


def project_load(url: str, name: str, account: str, days: list[date], force: bool = False) -> int:
    """The project's own path, as the Dagster assets run it: legs day by day (parsing the next
    day while this one merges; a day whose pages were already loaded unchanged is skipped), then
    calls and aggregates for the days that changed. Returns fact rows rewritten (inserted + updated)
    of the provider's primary kind (its legs)."""
    provider = provider_account(name)
    kinds = provider.spec.items
    totals = load_windows(connector(url), name, account, kinds, [day_window(day.isoformat()) for day in days],
                          parse=lambda pages: provider.parse(pages, account),
                          parser_version=provider.parser_version, force=force)
    whole_range = (day_window(days[0].isoformat())[0], day_window(days[-1].isoformat())[1])
    with psycopg.connect(url) as conn:
        for target in ("calls", "aggregates"):
            refresh_stale(conn, target, whole_range)
    primary = kinds[0].name
    return totals.get(f"{primary}_inserted", 0) + totals.get(f"{primary}_updated", 0)


def forced_project_load(url: str, name: str, account: str, days: list[date]) -> int:
    """The same as CDR_FORCE_RELOAD=1 runs it: every day parsed and merged again (the guarded MERGE)."""
    return project_load(url, name, account, days, force=True)


def derived_refresh(url: str, day: date, target: str) -> None:
    with psycopg.connect(url) as conn:
        refresh_stale(conn, target, day_window(day.isoformat()), full=True)


def reference_load(url: str, name: str, account: str, days: list[date],
                   fresh_target: bool) -> tuple[float, int]:
    """Binary COPY of already-parsed legs into a staging table and one guarded MERGE per day into
    an empty copy of the fact table; only COPY and MERGE are timed, not parsing."""
    provider = provider_account(name)
    columns = ", ".join(LEG_COLUMNS)
    copy_types = CALL_LEGS.copy_types  # the load path's binary COPY types, column for column
    assert copy_types is not None
    elapsed, rewritten = 0.0, 0
    with psycopg.connect(url, autocommit=True) as reader, psycopg.connect(url) as writer:
        if fresh_target:
            writer.execute(sql_file("bench/reference_target.sql"))
            writer.commit()
        for day in days:
            window = day_window(day.isoformat())
            legs = [item for item in provider.parse(window_pages(reader, name, account, window), account)
                    if type(item) is CallLeg]
            started = time.perf_counter()
            with writer.transaction():
                writer.execute(sql_file("load/stage_call_legs.sql"))
                copy_legs = f"COPY stage_call_leg ({columns}) FROM STDIN (FORMAT BINARY)"
                with writer.cursor().copy(copy_legs) as copy:
                    copy.set_types(copy_types)
                    for leg in legs:
                        copy.write_row(leg)
                rewritten += writer.execute(sql_file("bench/reference_merge.sql")).rowcount
            elapsed += time.perf_counter() - started
            del legs
    return elapsed, rewritten


def bench_provider(url: str, sims: Simulators, name: str, days: list[date]) -> list[Stage]:
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
    first = measure(name, "project: first load (raw -> fact + calls + aggregates)", 0, "project_load",
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
    stages.append(measure(name, "reference: COPY + guarded MERGE (pre-parsed)", legs, "reference_load",
                          url, name, account, days, True))
    stages.append(measure(name, "reference: identical re-run", legs, "reference_load",
                          url, name, account, days, False))
    return stages


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
        first = by_name["project: first load (raw -> fact + calls + aggregates)"]
        rerun = by_name["project: identical re-run"]
        reference = by_name["reference: COPY + guarded MERGE (pre-parsed)"]
        refresh = by_name["aggregates refresh of one day (hourly + daily)"]
        assembly = by_name["calls assembly of one day"]
        day_load = first.seconds / days
        summary[provider] = {
            "first_load_legs_per_s": first.legs_per_s, "rerun_legs_per_s": rerun.legs_per_s,
            "first_load_vs_reference": first.legs_per_s / reference.legs_per_s,
            "rerun_rows_rewritten": rerun.rewritten,
            "peak_rss_mib": max(s.peak_rss_mib for s in by_name.values()),
            "aggregates_refresh_share_of_day_load": refresh.seconds / day_load,
            "calls_assembly_share_of_day_load": assembly.seconds / day_load,
        }
        figures = summary[provider]
        print(f"{provider}: first load {first.legs_per_s:,.0f} legs/s ="
              f" {figures['first_load_vs_reference']:.2f}x the reference;"
              f" re-run {rerun.legs_per_s:,.0f} legs/s rewrote {rerun.rewritten:,} rows;"
              f" one day's aggregates refresh = {refresh.seconds / day_load:.0%} and calls assembly ="
              f" {assembly.seconds / day_load:.0%} of a day's load;"
              f" peak RSS {figures['peak_rss_mib']:.0f} MiB")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legs", type=int, default=1_000_000, help="legs per provider")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--providers", default="tenios,belfabriek,mixvoip")
    parser.add_argument("--output", default=str(PROJECT_ROOT / ".bench" / "results.json"))
    args = parser.parse_args(argv)
    names = [n for n in args.providers.split(",") if n]

    server = os.environ.get("CDR_WAREHOUSE_URL") or start_embedded()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
    url = ensure_database(server, BENCH_DATABASE)
    migrate(url)
    days = [FIRST_DAY + timedelta(days=i) for i in range(args.days)]
    sims = Simulators(names, max(1, args.legs // args.days))
    try:
        stages = [stage for name in names for stage in bench_provider(url, sims, name, days)]
    finally:
        sims.close()
    summary = report(stages, args.days)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"legs_per_provider": args.legs, "days": args.days, "summary": summary,
                                  "stages": [{**asdict(s), "legs_per_s": s.legs_per_s} for s in stages]},
                                 indent=2))
    print(f"\nfigures written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
