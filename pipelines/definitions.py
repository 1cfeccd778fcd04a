"""The Dagster code location: every asset, check, job, schedule and resource, built from one
Configuration (pipelines.config) read from the environment when the code location loads."""

import os
import warnings
from collections.abc import Mapping
from datetime import timedelta

from dagster import (
    AssetSelection,
    BetaWarning,
    DefaultScheduleStatus,
    Definitions,
    EnvVar,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
    with_source_code_references,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.assets.checks import build_account_checks
from pipelines.assets.derived import build_derived_assets
from pipelines.assets.metadata import OWNERS
from pipelines.assets.provider import build_provider_assets, load_asset_keys
from pipelines.assets.report import build_report_asset
from pipelines.assets.retention import build_retention
from pipelines.assets.watch import build_watch
from pipelines.config import Configuration, debug_from_env
from pipelines.errors import ConfigurationError
from pipelines.partitions import daily_partitions
from pipelines.providers.spec import CALL_LEGS
from pipelines.resources import WarehouseResource

# `backfill_policy` is beta in Dagster 1.13; single-run backfills are the point of it here.
warnings.filterwarnings("ignore", category=BetaWarning)

NIGHTLY_JOB = "nightly_cdr_load"
NIGHTLY_CRON = "30 2 * * *"  # 02:30 UTC


def build_definitions(config: Configuration) -> Definitions:
    """Everything Dagster runs for `config`. The warehouse URL (a secret: it may hold a password)
    is passed as a reference to its environment variable, or the embedded server is used."""
    partitions = daily_partitions(config.start_date)
    built = [build_provider_assets(account, partitions, force_reload=config.force_reload,
                                   secrets=config.secrets, fresh_months=config.fresh_months)
             for account in config.accounts]
    leg_loads = load_asset_keys(built, CALL_LEGS)
    other_loads = [assets.load.key for assets in built if assets.load.key not in leg_loads]
    derived = build_derived_assets(leg_loads, other_loads, partitions, config.accounts)
    # the HTML report, after the mart (pipelines.report)
    derived += [build_report_asset(mart, partitions, config.report_path, config.quarantine_warn_share)
                for mart in derived if mart.key.path == ["mart"]]
    watch = build_watch(config, built)
    nightly_job = define_asset_job(
        NIGHTLY_JOB,
        selection=AssetSelection.all() - AssetSelection.checks(*watch.checks),
        description="Pull, parse and aggregate a range of days for every enabled provider.",
    )
    repull = max(config.repull_days, 1)

    # Dagster 1.13 shows "Partition set: None" on every schedule defined in code (its snapshot of
    # a schedule never names a partition set), so the description says which partitions it runs.
    @schedule(job=nightly_job, cron_schedule=NIGHTLY_CRON, execution_timezone="UTC",
              default_status=DefaultScheduleStatus.STOPPED, owners=OWNERS,
              description=f"Nightly at 02:30 UTC, one run of {NIGHTLY_JOB} over the last {repull} daily"
                          " partitions: yesterday and the days before it (CDR_REPULL_DAYS), as CDRs"
                          " arrive late; a re-pull of an unchanged day rewrites nothing. Partitions:"
                          f" UTC days from {config.start_date}.")
    def nightly_schedule(context: ScheduleEvaluationContext) -> RunRequest:
        """Every night, yesterday plus the days before it (CDR_REPULL_DAYS in all), in one run:
        CDRs arrive late, and a re-pull of an unchanged day rewrites nothing."""
        today = context.scheduled_execution_time.date()
        first = today - timedelta(days=repull)
        last = today - timedelta(days=1)
        return RunRequest(
            run_key=f"nightly-{today.isoformat()}",
            tags={ASSET_PARTITION_RANGE_START_TAG: first.isoformat(),
                  ASSET_PARTITION_RANGE_END_TAG: last.isoformat()},
        )

    retention_job, retention_schedule = build_retention(config)
    where = config.warehouse
    warehouse = WarehouseResource(url=EnvVar(where.url_variable)) if where.url_variable \
        else WarehouseResource(embedded_database=where.database, pgdata=where.pgdata)
    return Definitions(
        # each asset's page links to the code that computes it (and a load asset to its parser)
        assets=with_source_code_references(
            [*(a for assets in built for a in (assets.raw_pages, assets.load)), *derived]),
        asset_checks=[*(check for account, assets in zip(config.accounts, built, strict=True)
                        for check in build_account_checks(account, assets.load, config)), *watch.checks],
        jobs=[nightly_job, retention_job],
        schedules=[nightly_schedule, retention_schedule],
        sensors=watch.sensors,
        resources={"warehouse": warehouse},
    )


def definitions_from_env(environ: Mapping[str, str]) -> Definitions:
    return build_definitions(Configuration.from_env(environ))


try:
    defs = definitions_from_env(os.environ)
except ConfigurationError as mistake:
    if debug_from_env(os.environ):
        raise
    # Dagster shows a code location that fails to load with the error's message and stack: the
    # message names the setting, so the stack is cut to this line (CDR_DEBUG=1 keeps it whole).
    raise mistake.with_traceback(None) from None
