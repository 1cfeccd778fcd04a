"""Shared assets over every provider's legs: assembled calls and hourly/daily aggregates.

Recomputed only for the run's days, a month of days per transaction.
"""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from pipelines.partitions import DERIVED_CHUNK_DAYS, daily_partitions, days_in, single_run
from pipelines.resources import WarehouseResource
from pipelines.warehouse.aggregates import refresh_calls, refresh_leg_aggregates


def build_derived_assets(leg_assets: list[AssetKey]) -> list:
    @asset(
        group_name="warehouse",
        deps=leg_assets,
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        kinds={"postgres"},
        description="cdr.fact_call: legs assembled into calls (linked by call key and b-leg).",
    )
    def calls(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        with warehouse.connect() as conn:
            for window in days_in(context.partition_time_window, DERIVED_CHUNK_DAYS):
                with conn.transaction():
                    refresh_calls(conn, window)
            start, end = context.partition_time_window
            days = (end - start).days
            total = conn.execute("SELECT count(*) FROM cdr.fact_call WHERE started_at >= %s AND started_at < %s",
                                 (start, end)).fetchone()[0]
        return MaterializeResult(metadata={"days": days, "calls": total})

    @asset(
        group_name="warehouse",
        deps=[*leg_assets, calls],
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        kinds={"postgres"},
        description="cdr.agg_call_leg_hourly and cdr.agg_call_leg_daily for the partition's days.",
    )
    def call_leg_aggregates(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        with warehouse.connect() as conn:
            for window in days_in(context.partition_time_window, DERIVED_CHUNK_DAYS):
                with conn.transaction():
                    refresh_leg_aggregates(conn, window)
            start, end = context.partition_time_window
            hourly, daily = conn.execute(
                "SELECT (SELECT count(*) FROM cdr.agg_call_leg_hourly WHERE hour >= %(s)s AND hour < %(e)s),"
                " (SELECT count(*) FROM cdr.agg_call_leg_daily WHERE day >= %(s)s::date AND day < %(e)s::date)",
                {"s": start, "e": end}).fetchone()
        return MaterializeResult(metadata={"hourly_rows": hourly, "daily_rows": daily})

    return [calls, call_leg_aggregates]
