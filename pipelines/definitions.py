"""The Dagster code location: every asset, check, job, schedule and resource in one place.

Configuration is environment variables only (see README): CDR_WAREHOUSE_URL, CDR_PROVIDERS,
CDR_START_DATE, CDR_REPULL_DAYS and each provider's own variables.
"""

import os
import warnings
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
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.assets.derived import build_derived_assets
from pipelines.assets.provider import build_provider_assets, call_leg_asset_keys
from pipelines.providers import registry
from pipelines.resources import WarehouseResource

# `backfill_policy` is beta in Dagster 1.13; single-run backfills are the point of it here.
warnings.filterwarnings("ignore", category=BetaWarning)

REPULL_DAYS = int(os.environ.get("CDR_REPULL_DAYS", "3"))


def enabled_providers():
    known = registry()
    wanted = os.environ.get("CDR_PROVIDERS")
    names = [n.strip() for n in wanted.split(",") if n.strip()] if wanted else list(known)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"CDR_PROVIDERS names unknown providers {unknown}; known: {sorted(known)}")
    return [known[n] for n in names]


def warehouse_resource() -> WarehouseResource:
    if os.environ.get("CDR_WAREHOUSE_URL"):
        return WarehouseResource(url=EnvVar("CDR_WAREHOUSE_URL"))
    return WarehouseResource()


specs = enabled_providers()
provider_assets = [a for spec in specs for a in (spec.build_assets or build_provider_assets)(spec)]
derived_assets = build_derived_assets(call_leg_asset_keys(specs))

nightly_job = define_asset_job(
    "nightly_cdr_load",
    selection=AssetSelection.all(),
    description="Pull, parse and aggregate a range of days for every enabled provider.",
)


@schedule(job=nightly_job, cron_schedule="30 2 * * *", execution_timezone="UTC",
          default_status=DefaultScheduleStatus.STOPPED)
def nightly_schedule(context: ScheduleEvaluationContext):
    """Every night, yesterday plus the CDR_REPULL_DAYS-1 days before it, in one run: CDRs arrive
    late, and a re-pull of an unchanged day rewrites nothing."""
    today = context.scheduled_execution_time.date()
    first = today - timedelta(days=max(REPULL_DAYS, 1))
    last = today - timedelta(days=1)
    return RunRequest(
        run_key=f"nightly-{today.isoformat()}",
        tags={ASSET_PARTITION_RANGE_START_TAG: first.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat()},
    )



defs = Definitions(
    assets=[*provider_assets, *derived_assets],
    asset_checks=[],
    jobs=[nightly_job],
    schedules=[nightly_schedule],
    resources={"warehouse": warehouse_resource(), **{spec.name: spec.resource_from_env() for spec in specs}},
)
