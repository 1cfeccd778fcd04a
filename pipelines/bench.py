"""`make bench`: how fast raw bodies become fact rows and aggregates, against PostgreSQL's own ceiling.

One run on the warehouse (embedded unless CDR_WAREHOUSE_URL is set) in a scratch database
`cdr_bench`, which it drops and recreates:

1. generate N legs spread over D days as TENIOS JSON pages, exactly as the simulator serves them,
   and land them in cdr.raw_response / cdr.window_fetch (not timed);
2. time the project's path, raw bodies -> parsed legs -> COPY -> guarded upsert -> calls and
   aggregates, on an empty fact table, then again on identical data (0 rows must be rewritten);
3. time the reference on the same legs: COPY into a staging table + guarded MERGE into an empty
   copy of the fact table, i.e. the ceiling for any loader that deduplicates;
4. time fetching the same kind of pages over HTTP from the simulator, sequentially and with
   bounded concurrency across days;
5. print a table and write the figures as JSON (.bench/results.json).

Peak RSS per stage is the process's VmHWM, reset between stages through /proc/self/clear_refs.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import orjson
import psycopg

from pipelines.model import LEG_COLUMNS
from pipelines.partitions import DERIVED_CHUNK_DAYS, day_window, days_in
from pipelines.providers.base import FetchedPage
from pipelines.providers.tenios import parse as tenios_parse
from pipelines.providers.tenios import simulator as tenios_sim
from pipelines.sql import sql_file
from pipelines.warehouse.aggregates import refresh_calls, refresh_leg_aggregates
from pipelines.warehouse.connection import PROJECT_ROOT, ensure_database, start_embedded, with_database
from pipelines.warehouse.load import load_window, load_windows
from pipelines.warehouse.migrate import migrate
from pipelines.warehouse.raw import record_window_fetch, store_page, window_pages

UTC = timezone.utc
BENCH_DATABASE = "cdr_bench"
ACCOUNT = "bench"
PAGE_SIZE = 1000


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
    name: str
    legs: int
    seconds: float
    peak_rss_mib: float
    rewritten: int | None = None

    @property
    def legs_per_s(self) -> float:
        return self.legs / self.seconds if self.seconds else float("inf")


def timed(name: str, legs: int, work) -> Stage:
    reset_peak_rss()
    started = time.perf_counter()
    rewritten = work()
    return Stage(name, legs, time.perf_counter() - started, peak_rss_mib(), rewritten)


def bench_days(first: date, days: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(days)]


def generate(url: str, legs: int, days: list[date]) -> int:
    """Land `legs` legs over `days` as simulator-shaped pages; returns the legs landed."""
    data = tenios_sim.TeniosData(seed=7, legs_per_day=max(1, legs // len(days)), late_fraction=0.0)
    total = 0
    with psycopg.connect(url) as conn:
        for day in days:
            window = day_window(day.isoformat())
            records = [record for _, _, record in tenios_sim.day_legs(data, ACCOUNT, day)]
            tenios_sim.day_legs.cache_clear()
            raw_ids = []
            for page, start in enumerate(range(0, len(records), PAGE_SIZE), start=1):
                items = records[start:start + PAGE_SIZE]
                body = orjson.dumps({"items": items, "total_items": len(records), "page": page,
                                     "page_size": PAGE_SIZE})
                fetched = FetchedPage("/cdrs/retrieve", {"page": page}, page, 200, "application/json", body, len(items))
                raw_ids.append(store_page(conn, "tenios", ACCOUNT, window, fetched))
            record_window_fetch(conn, "tenios", ACCOUNT, window, raw_ids, len(records), len(records))
            conn.commit()
            total += len(records)
    return total


def project_load(url: str, days: list[date]) -> int:
    """The project's own path, as the Dagster assets run it: legs day by day, then calls and
    aggregates over the range. Returns the fact rows rewritten (inserted + updated)."""
    def connect(autocommit: bool = False):
        return psycopg.connect(url, autocommit=autocommit)

    totals = load_windows(connect, "tenios", ACCOUNT, [day_window(day.isoformat()) for day in days],
                          parse=lambda pages: tenios_parse.parse_pages(pages, ACCOUNT),
                          load=lambda writer, window, items: load_window(writer, "tenios", ACCOUNT, window, items))
    rewritten = totals["inserted"] + totals["updated"]
    with psycopg.connect(url) as writer:
        whole_range = (day_window(days[0].isoformat())[0], day_window(days[-1].isoformat())[1])
        for chunk in days_in(whole_range, DERIVED_CHUNK_DAYS):
            with writer.transaction():
                refresh_calls(writer, chunk)
                refresh_leg_aggregates(writer, chunk)
    return rewritten


def aggregate_refresh(url: str, day: date) -> None:
    with psycopg.connect(url) as conn, conn.transaction():
        window = day_window(day.isoformat())
        refresh_calls(conn, window)
        refresh_leg_aggregates(conn, window)


def reference_load(url: str, days: list[date], fresh_target: bool = True) -> tuple[float, int]:
    """Plain COPY of already-parsed rows into staging + one guarded MERGE per day into an empty
    copy of the fact table. Parsing happens before the clock starts, per day."""
    columns = ", ".join(LEG_COLUMNS)
    with psycopg.connect(url, autocommit=True) as reader, psycopg.connect(url) as writer:
        if fresh_target:
            writer.execute(sql_file("bench/reference_target.sql"))
            writer.commit()
        elapsed, rewritten = 0.0, 0
        for day in days:
            window = day_window(day.isoformat())
            legs = list(tenios_parse.parse_pages(window_pages(reader, "tenios", ACCOUNT, window), ACCOUNT))
            started = time.perf_counter()
            with writer.transaction():
                writer.execute("CREATE TEMP TABLE ref_stage (LIKE bench.ref_fact_call_leg INCLUDING DEFAULTS) ON COMMIT DROP")
                with writer.cursor().copy(f"COPY ref_stage ({columns}) FROM STDIN") as copy:
                    for leg in legs:
                        copy.write_row(leg)
                rewritten += writer.execute(sql_file("bench/reference_merge.sql")).rowcount
            elapsed += time.perf_counter() - started
            del legs
    return elapsed, rewritten


def fetch_benchmark(days: list[date], legs_per_day: int, concurrency: int) -> dict:
    from pipelines.providers.tenios.client import TeniosClient
    from pipelines.simulation import SimulatorServer

    data = tenios_sim.TeniosData(seed=7, legs_per_day=legs_per_day, late_fraction=0.0)
    app = tenios_sim.build_simulator({"bench-key": ACCOUNT}, data)
    for day in days:  # generate before timing: the simulator's own data generation is not the client's cost
        tenios_sim.day_legs(data, ACCOUNT, day)
    with SimulatorServer(app) as server:
        def pull(day: date) -> tuple[int, int]:
            with TeniosClient("bench-key", account=ACCOUNT, base_url=server.url, page_size=PAGE_SIZE) as client:
                pages = legs = 0
                for fetched in client.fetch_window(day_window(day.isoformat())):
                    pages += 1
                    legs += fetched.records
                return pages, legs

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            results = list(pool.map(pull, days))
        seconds = time.perf_counter() - started
    tenios_sim.day_legs.cache_clear()
    pages = sum(p for p, _ in results)
    legs = sum(n for _, n in results)
    return {"concurrency": concurrency, "days": len(days), "pages": pages, "legs": legs, "seconds": seconds,
            "pages_per_s": pages / seconds, "legs_per_s": legs / seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legs", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--fetch-legs", type=int, default=100_000, help="legs pulled over HTTP in the fetch figure")
    parser.add_argument("--output", default=str(PROJECT_ROOT / ".bench" / "results.json"))
    args = parser.parse_args(argv)

    server = os.environ.get("CDR_WAREHOUSE_URL") or start_embedded()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
    url = ensure_database(with_database(server, "postgres") if not os.environ.get("CDR_WAREHOUSE_URL") else server,
                          BENCH_DATABASE)
    migrate(url)
    days = bench_days(date(2026, 1, 1), args.days)

    print(f"generating {args.legs:,} legs over {args.days} days as TENIOS pages of {PAGE_SIZE} ...", flush=True)
    started = time.perf_counter()
    legs = generate(url, args.legs, days)
    print(f"  landed {legs:,} legs in {time.perf_counter() - started:.1f}s", flush=True)

    stages = [timed("project: first load (raw -> fact + calls + aggregates)", legs, lambda: project_load(url, days))]
    stages.append(timed("project: identical re-run", legs, lambda: project_load(url, days)))
    per_day = legs / len(days)
    refresh = timed("aggregate refresh, one day", int(per_day), lambda: aggregate_refresh(url, days[len(days) // 2]))
    reset_peak_rss()
    ref_seconds, ref_rewritten = reference_load(url, days)
    stages.append(Stage("reference: COPY + guarded MERGE (pre-parsed)", legs, ref_seconds, peak_rss_mib(), ref_rewritten))
    reset_peak_rss()
    ref2_seconds, ref2_rewritten = reference_load(url, days, fresh_target=False)
    stages.append(Stage("reference: identical re-run", legs, ref2_seconds, peak_rss_mib(), ref2_rewritten))

    fetch_days = bench_days(date(2026, 3, 1), min(args.days, 10))
    fetch_per_day = max(1, args.fetch_legs // len(fetch_days))
    fetch = [fetch_benchmark(fetch_days, fetch_per_day, c) for c in (1, 4)]

    first, rerun, reference = stages[0], stages[1], stages[2]
    print()
    print(f"{'stage':<58}{'legs':>11}{'seconds':>9}{'legs/s':>11}{'rewritten':>11}{'peak RSS MiB':>14}")
    for stage in [*stages, refresh]:
        print(f"{stage.name:<58}{stage.legs:>11,}{stage.seconds:>9.2f}{stage.legs_per_s:>11,.0f}"
              f"{'' if stage.rewritten is None else f'{stage.rewritten:,}':>11}{stage.peak_rss_mib:>14.0f}")
    ratio = first.legs_per_s / reference.legs_per_s
    day_load_s = first.seconds / len(days)
    print()
    print(f"first load / reference: {ratio:.2f}x;  re-run rewrote {rerun.rewritten:,} rows;"
          f"  aggregate refresh = {refresh.seconds / day_load_s:.0%} of one day's load ({day_load_s:.2f}s)")
    for f in fetch:
        print(f"fetch over HTTP, concurrency {f['concurrency']}: {f['pages']} pages, {f['legs']:,} legs in"
              f" {f['seconds']:.2f}s = {f['pages_per_s']:.0f} pages/s, {f['legs_per_s']:,.0f} legs/s")

    results = {
        "legs": legs, "days": len(days), "page_size": PAGE_SIZE,
        "stages": [{"name": s.name, "legs": s.legs, "seconds": s.seconds, "legs_per_s": s.legs_per_s,
                    "rewritten": s.rewritten, "peak_rss_mib": s.peak_rss_mib} for s in [*stages, refresh]],
        "first_load_vs_reference": ratio,
        "aggregate_refresh_share_of_day_load": refresh.seconds / day_load_s,
        "fetch": fetch,
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2))
    print(f"\nfigures written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
