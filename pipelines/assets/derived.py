"""Shared assets over every provider's legs: assembled calls and hourly/daily aggregates.

Each recomputes only the days of the run's range that a leg load changed (cdr.stale_day), plus
the day before the range, where a call may have started; `full_refresh` recomputes every day.
"""

from datetime import timedelta

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AutomationCondition,
    Config,
    MaterializeResult,
    PartitionsDefinition,
    asset,
)

from pipelines.partitions import single_run
from pipelines.resources import WarehouseResource
from pipelines.sql import sql_file
from pipelines.warehouse.aggregates import refresh_stale

# The days a load updated are requested of the derived assets on their own (docs/operations.md,
# "Watching the loads"). Not `eager()`: it only ever looks at the latest day, so a backfill of past
# days would stay behind, and it waits for every dependency's day, so one provider's backfill would
# wait for the others'. A load run that also materialized the derived assets (the nightly job)
# does not count as an update of their dependencies (any_deps_updated leaves those out).
FOLLOW_LOADS = (
    AutomationCondition.any_deps_updated().since_last_handled()
    & ~AutomationCondition.any_deps_in_progress()
    & ~AutomationCondition.in_progress()
).with_label("follows its loads")


class DerivedConfig(Config):
    full_refresh: bool = False  # recompute every day of the range, changed or not


def _build_refresh_asset(name: str, target: str, deps: list, description: str, count_sql: str,
                         partitions: PartitionsDefinition) -> AssetsDefinition:
    """The asset `name`, which recomputes `target` for the stale days of its range; `count_sql`
    gives the metadata describing what the range now holds."""

    @asset(
        name=name,
        group_name="warehouse",
        deps=deps,
        partitions_def=partitions,
        backfill_policy=single_run,
        kinds={"postgres"},
        description=description,
        automation_condition=FOLLOW_LOADS,
    )
    def refreshed(context: AssetExecutionContext, config: DerivedConfig,
                  warehouse: WarehouseResource) -> MaterializeResult:
        start, end = context.partition_time_window
        with warehouse.connect() as conn:
            days = refresh_stale(conn, target, (start - timedelta(days=1), end), full=config.full_refresh)
            cursor = conn.execute(sql_file(count_sql), {"start": start, "end": end})
            columns = [column.name for column in cursor.description or ()]
            # not strict: a query that returns no row (`or ()`) gives no figures rather than an error
            figures = dict(zip(columns, cursor.fetchone() or (), strict=False))
        context.log.info(f"{target}: recomputed {days} day(s) of [{start.date()}, {end.date()})")
        return MaterializeResult(metadata={"days_recomputed": days, **figures})

    return refreshed


def build_derived_assets(leg_loads: list[AssetKey],
                         partitions: PartitionsDefinition) -> list[AssetsDefinition]:
    """`calls` and `call_leg_aggregates`, downstream of the load assets that produce legs."""
    calls = _build_refresh_asset(
        "calls", "calls", list(leg_loads),
        "cdr.fact_call: legs assembled into calls (linked by call key and b-leg).",
        "aggregates/count_calls.sql", partitions)
    call_leg_aggregates = _build_refresh_asset(
        "call_leg_aggregates", "aggregates", [*leg_loads, calls],
        "cdr.agg_call_leg_hourly and cdr.agg_call_leg_daily for the partition's days.",
        "aggregates/count_leg_aggregates.sql", partitions)
    return [calls, call_leg_aggregates]
