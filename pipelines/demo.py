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
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus
from dagster._core.remote_representation.code_location import CodeLocation
from dagster._core.remote_representation.external import RemoteRepository
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from dagster._core.workspace.context import WorkspaceProcessContext, WorkspaceRequestContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

from pipelines.config import Configuration, migration_dirs
from pipelines.definitions import NIGHTLY_JOB
from pipelines.environment import WORKSPACE_FILE, prepare_dagster_home
from pipelines.errors import CdrEtlError
from pipelines.providers.spec import SimulatedAccount
from pipelines.registry import registry
from pipelines.simulators import accounts_file, running_simulators
from pipelines.sql import sql_file
from pipelines.warehouse.connection import redact_url
from pipelines.warehouse.migrate import migrate


def launch_backfill(first: date, last: date, instance: DagsterInstance,
                    log_level: str = "WARNING", ops: dict | None = None) -> DagsterRun:
    """Materialize every asset for [first, last] as one ranged run of the nightly job, launched
    as an ordinary run of the code location `make ui` serves (workspace.yaml), and wait for it.

    The run records which code location and job it came from, as a run launched from the UI or
    the schedule does: the UI re-executes it and shows it in the Overview timeline. A job
    executed in process records no such origin, and the UI's "Re-execute" fails on it."""
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}},
                  # the steps one after another in the run's process: a process per step would
                  # add its imports, seconds on two cores, to each of a dozen steps
                  "execution": {"config": {"in_process": {}}},
                  **({"ops": ops} if ops else {})}
    tags = {ASSET_PARTITION_RANGE_START_TAG: first.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: last.isoformat()}
    # Starts the code location's server in this process's environment (the simulators' URLs);
    # the run's own process is started by that server, as it is for `make ui`.
    with WorkspaceProcessContext(instance, WorkspaceFileTarget([str(WORKSPACE_FILE)]),
                                 code_server_log_level="WARNING") as process:
        workspace = process.create_request_context()
        location, repository = _location_of(workspace, NIGHTLY_JOB)
        job = repository.get_full_job(NIGHTLY_JOB)
        plan = location.get_execution_plan(job, run_config, step_keys_to_execute=None, known_state=None,
                                           instance=instance).execution_plan_snapshot
        run = instance.create_run(
            job_name=NIGHTLY_JOB, run_id=None, run_config=run_config, status=None,
            tags={**job.tags, **tags}, root_run_id=None, parent_run_id=None,
            step_keys_to_execute=plan.step_keys_to_execute, execution_plan_snapshot=plan,
            job_snapshot=job.job_snapshot, parent_job_snapshot=job.parent_job_snapshot,
            asset_selection=None, asset_check_selection=None, resolved_op_selection=None,
            op_selection=None, remote_job_origin=job.get_remote_origin(),
            job_code_origin=job.get_python_origin(), asset_graph=repository.asset_graph)
        # Launched, not submitted: the instance's queue is served by the daemon, which `make ui`
        # runs and the demo does not.
        instance.launch_run(run.run_id, workspace)
        return _finished(instance, run.run_id)


def _location_of(workspace: WorkspaceRequestContext, job_name: str) -> tuple[CodeLocation, RemoteRepository]:
    """The code location (and repository) of the workspace that defines `job_name`."""
    for name in workspace.code_location_names:
        error = workspace.get_code_location_error(name)
        if error is not None:
            raise CdrEtlError(f"code location {name} ({WORKSPACE_FILE.name}) did not load: {error.message}")
        location = workspace.get_code_location(name)
        for repository in location.get_repositories().values():
            if repository.has_job(job_name):
                return location, repository
    raise CdrEtlError(f"no code location in {WORKSPACE_FILE} defines the job {job_name}")


def _finished(instance: DagsterInstance, run_id: str) -> DagsterRun:
    """The run once it has ended. A run whose process dies without saying so (killed, out of
    memory) ends too: the code location's server, which started it, marks it failed."""
    while True:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            return run
        time.sleep(0.5)


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
    config = Configuration.from_env(os.environ)
    url = config.warehouse.url(os.environ)
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
        with DagsterInstance.get() as instance:
            # the report of the demo's days, not of the last 30
            run = launch_backfill(first, last, instance, ops={"cdr_report": {"config": {"days": days}}})
    success = run.status == DagsterRunStatus.SUCCESS
    print(f"dagster run {run.run_id}: {run.status.value}"
          f" in {time.monotonic() - started:.1f}s")
    print()
    print(summary(url, first, last))
    print()
    if success:
        print(f"report: {config.report_path}  (open it in a browser; `cdr-etl report --help` for others)")
        print()
    print("Look around:")
    print("  make psql                  # SQL shell on the warehouse;"
          " try: SELECT * FROM mart.kpi_daily;")
    print("  docs/mart.md               # the BI mart: calls and KPIs in each account's local time")
    print("  make ui                    # Dagster UI on http://127.0.0.1:3000 with the simulators running")
    print(f"  DAGSTER_HOME={home}")
    return 0 if success else 1
