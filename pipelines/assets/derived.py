"""Shared assets over every provider's legs: assembled calls and hourly/daily aggregates.

Each recomputes only the days of the run's range that a leg load changed (cdr.stale_day), plus
the day before the range, where a call may have started; `full_refresh` recomputes every day.
"""

from datetime import timedelta

from dagster import AssetExecutionContext, AssetKey, Config, MaterializeResult, asset

from pipelines.partitions import daily_partitions, single_run
from pipelines.resources import WarehouseResource
from pipelines.warehouse.aggregates import refresh_stale


class DerivedConfig(Config):
    full_refresh: bool = False  # recompute every day of the range, changed or not


def _refresh(context: AssetExecutionContext, warehouse: WarehouseResource, config: DerivedConfig,
             target: str) -> int:
    start, end = context.partition_time_window
    with warehouse.connect() as conn:
        days = refresh_stale(conn, target, (start - timedelta(days=1), end), full=config.full_refresh)
    context.log.info(f"{target}: recomputed {days} day(s) of [{start.date()}, {end.date()})")
    return days


def build_derived_assets(leg_assets: list[AssetKey]) -> list:
    @asset(
        group_name="warehouse",
        deps=leg_assets,
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        kinds={"postgres"},
        description="cdr.fact_call: legs assembled into calls (linked by call key and b-leg).",
    )
    def calls(context: AssetExecutionContext, config: DerivedConfig,
              warehouse: WarehouseResource) -> MaterializeResult:
        days = _refresh(context, warehouse, config, "calls")
        start, end = context.partition_time_window
        with warehouse.connect() as conn:
            total = conn.execute("SELECT count(*) FROM cdr.fact_call WHERE started_at >= %s AND started_at < %s",
                                 (start, end)).fetchone()[0]
        return MaterializeResult(metadata={"days_recomputed": days, "calls": total})

    @asset(
        group_name="warehouse",
        deps=[*leg_assets, calls],
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        kinds={"postgres"},
        description="cdr.agg_call_leg_hourly and cdr.agg_call_leg_daily for the partition's days.",
    )
    def call_leg_aggregates(context: AssetExecutionContext, config: DerivedConfig,
                            warehouse: WarehouseResource) -> MaterializeResult:
        days = _refresh(context, warehouse, config, "aggregates")
        start, end = context.partition_time_window
        with warehouse.connect() as conn:
            hourly, daily = conn.execute(
                "SELECT (SELECT count(*) FROM cdr.agg_call_leg_hourly WHERE hour >= %(s)s AND hour < %(e)s),"
                " (SELECT count(*) FROM cdr.agg_call_leg_daily WHERE day >= %(s)s::date AND day < %(e)s::date)",
                {"s": start, "e": end}).fetchone()
        return MaterializeResult(metadata={"days_recomputed": days, "hourly_rows": hourly, "daily_rows": daily})

    return [calls, call_leg_aggregates]
