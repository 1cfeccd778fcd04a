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


def _build_refresh_asset(name: str, target: str, deps: list, description: str, count_rows):
    """The asset `name`, which recomputes `target` for the stale days of its range;
    `count_rows(conn, start, end)` gives the metadata describing what the range now holds."""

    @asset(
        name=name,
        group_name="warehouse",
        deps=deps,
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        kinds={"postgres"},
        description=description,
    )
    def refreshed(context: AssetExecutionContext, config: DerivedConfig,
                  warehouse: WarehouseResource) -> MaterializeResult:
        start, end = context.partition_time_window
        with warehouse.connect() as conn:
            days = refresh_stale(conn, target, (start - timedelta(days=1), end), full=config.full_refresh)
            metadata = count_rows(conn, start, end)
        context.log.info(f"{target}: recomputed {days} day(s) of [{start.date()}, {end.date()})")
        return MaterializeResult(metadata={"days_recomputed": days, **metadata})

    return refreshed


def _count_calls(conn, start, end) -> dict:
    return {"calls": conn.execute("SELECT count(*) FROM cdr.fact_call WHERE started_at >= %s AND started_at < %s",
                                  (start, end)).fetchone()[0]}


def _count_aggregates(conn, start, end) -> dict:
    hourly, daily = conn.execute(
        "SELECT (SELECT count(*) FROM cdr.agg_call_leg_hourly WHERE hour >= %(s)s AND hour < %(e)s),"
        " (SELECT count(*) FROM cdr.agg_call_leg_daily WHERE day >= %(s)s::date AND day < %(e)s::date)",
        {"s": start, "e": end}).fetchone()
    return {"hourly_rows": hourly, "daily_rows": daily}


def build_derived_assets(leg_assets: list[AssetKey]) -> list:
    calls = _build_refresh_asset(
        "calls", "calls", leg_assets, "cdr.fact_call: legs assembled into calls (linked by call key and b-leg).",
        _count_calls)
    call_leg_aggregates = _build_refresh_asset(
        "call_leg_aggregates", "aggregates", [*leg_assets, calls],
        "cdr.agg_call_leg_hourly and cdr.agg_call_leg_daily for the partition's days.", _count_aggregates)
    return [calls, call_leg_aggregates]
