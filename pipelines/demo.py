"""`make demo`: embedded PostgreSQL, simulators, a 3-day backfill through Dagster, a summary.

With `--accounts-per-provider N` (N > 1) every simulator serves N accounts, each with its own
credentials, customers and data; the demo writes the accounts file it loads them from,
`cdr-accounts.demo.toml` in the working directory (git-ignored), its credentials referencing
variables `DEMO_<PROVIDER>_<N>_<CREDENTIAL>` that only the demo's own process holds.
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from dagster import DagsterInstance, ExecuteInProcessResult
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.config import Configuration, migration_dirs
from pipelines.definitions import NIGHTLY_JOB, definitions_from_env
from pipelines.environment import prepare_dagster_home
from pipelines.providers.spec import SimulatedAccount
from pipelines.registry import registry
from pipelines.simulators import accounts_file, running_simulators
from pipelines.sql import sql_file
from pipelines.warehouse.connection import redact_url
from pipelines.warehouse.migrate import migrate


def run_backfill(first: date, last: date, instance: DagsterInstance | None = None,
                 log_level: str = "WARNING") -> ExecuteInProcessResult:
    """Materialize every asset for [first, last] as one ranged run of the nightly job."""
    job = definitions_from_env(os.environ).resolve_job_def(NIGHTLY_JOB)
    return job.execute_in_process(
        instance=instance or DagsterInstance.get(),
        tags={ASSET_PARTITION_RANGE_START_TAG: first.isoformat(),
              ASSET_PARTITION_RANGE_END_TAG: last.isoformat()},
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )


DEMO_ACCOUNTS_FILE = "cdr-accounts.demo.toml"


def summary(url: str, first: date, last: date) -> str:
    with psycopg.connect(url) as conn:
        rows = conn.execute(sql_file("views/demo_summary.sql"),
                            {"from": first, "to": last + timedelta(days=1)}).fetchall()
        tables = conn.execute(sql_file("views/table_sizes.sql")).fetchall()
    width = max([16, *(len(row[1]) + 2 for row in rows)])
    lines = [(f"{'provider':<12}{'account':<{width}}{'customers':>9}{'days':>5}{'legs':>9}{'calls':>8}"
              f"{'dup dropped':>13}{'quarantined':>13}")]
    for provider, account, customers, days, legs, calls, duplicates, quarantined in rows:
        legs = "counters" if legs is None else legs  # Telecom X: per-employee statistics, no legs
        customers = customers or "-"  # TENIOS: no customers under an access key
        lines.append(f"{provider:<12}{account:<{width}}{customers:>9}{days:>5}{legs:>9}{calls:>8}"
                     f"{duplicates:>13}{quarantined:>13}")
    lines.append("")
    lines.append("rows per table:")
    lines += [f"  {name:<28}{count:>10}" for name, count in tables]
    return "\n".join(lines)


def use_accounts_file(accounts: Mapping[str, tuple[SimulatedAccount, ...]],
                      accounts_per_provider: int) -> Path:
    """Write the simulators' accounts to DEMO_ACCOUNTS_FILE in the working directory, set the
    variables its credential references name (in this process only) and point
    CDR_ACCOUNTS_FILE at it."""
    path = Path.cwd() / DEMO_ACCOUNTS_FILE
    text, secrets = accounts_file(accounts, header=(
        f"Written by `cdr-etl demo --accounts-per-provider {accounts_per_provider}`: the accounts\n"
        "its simulators served. The credentials name variables only that demo process held and\n"
        "the base URLs are that run's simulator ports: a record of the run, not a file to reuse.\n"
        "The format: cdr-accounts.example.toml."))
    path.write_text(text)
    os.environ.update(secrets)
    os.environ["CDR_ACCOUNTS_FILE"] = str(path)
    return path


def main(days: int = 3, accounts_per_provider: int = 1) -> int:
    started = time.monotonic()
    # Every setting checked, and the warehouse reached, before a simulator or Dagster starts.
    url = Configuration.from_env(os.environ).warehouse.url(os.environ)
    applied = migrate(url, migration_dirs(os.environ))
    home = prepare_dagster_home()
    print(f"warehouse: {redact_url(url)}"
          + (f" (applied {', '.join(applied)})" if applied else " (schema up to date)"))
    today = datetime.now(UTC).date()
    first, last = today - timedelta(days=days), today - timedelta(days=1)
    names = [n.strip() for n in os.environ.get("CDR_PROVIDERS", "").split(",") if n.strip()] \
        or list(registry())
    os.environ["CDR_PROVIDERS"] = ",".join(names)
    with running_simulators(names, accounts_per_provider=accounts_per_provider) as urls:
        for name, sim_url in urls.items():
            print(f"simulator: {name} on {sim_url}")
        if accounts_per_provider > 1:
            path = use_accounts_file(urls.accounts, accounts_per_provider)
            print(f"accounts: {accounts_per_provider} per provider, in {path}")
        print(f"backfill: {first} .. {last} ({days} daily partitions, one run) for {', '.join(names)}")
        result = run_backfill(first, last)
    print(f"dagster run {result.run_id}: {'SUCCESS' if result.success else 'FAILED'}"
          f" in {time.monotonic() - started:.1f}s")
    print()
    print(summary(url, first, last))
    print()
    print("Look around:")
    print("  make psql                  # SQL shell on the warehouse;"
          " try: SELECT * FROM cdr.agg_call_leg_daily;")
    print("  make ui                    # Dagster UI on http://127.0.0.1:3000 with the simulators running")
    print(f"  DAGSTER_HOME={home}")
    return 0 if result.success else 1
