"""Shared assets over every provider's legs: assembled calls, hourly/daily aggregates, and the
BI mart (its KPIs in each account's local time, its dimensions).

Each recomputes only the days of the run's range that a leg load changed (cdr.stale_day), plus
the day before the range, where a call may have started; `full_refresh` recomputes every day.
Each day partition's materialization shows that day's own figures (pipelines.assets.metadata).
"""

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

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

from pipelines.assets.metadata import OWNERS, TABLE_NAME, DayFigures
from pipelines.config import ProviderAccount
from pipelines.model import Window
from pipelines.partitions import single_run
from pipelines.resources import WarehouseResource
from pipelines.sql import sql_file
from pipelines.warehouse.aggregates import REFRESH_SQL, refresh_stale_marks
from pipelines.warehouse.mart import AccountRow, enrich_new_numbers, refresh_mart

# How an asset recomputes its target for a window: the (provider, account, day) marks it dealt with.
Refresh = Callable[[Any, Window, bool], list]

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


def _build_refresh_asset(name: str, target: str, table: str, deps: list, description: str, count_sql: str,
                         partitions: PartitionsDefinition, refresh: Refresh | None = None,
                         group_name: str = "warehouse") -> AssetsDefinition:
    """The asset `name`, which recomputes `target` (mainly `table`) for the stale days of its
    range (with `refresh`, where it does more than `refresh_stale_marks`); `count_sql` gives each
    day's figures: what the day now holds."""
    recompute: Refresh = refresh or (lambda conn, window, full: refresh_stale_marks(conn, target, window,
                                                                                     full=full))

    @asset(
        name=name,
        group_name=group_name,
        deps=deps,
        partitions_def=partitions,
        backfill_policy=single_run,
        kinds={"postgres"},
        description=description,
        # the recomputation is its SQL: a change to it shows as a code change in the UI
        code_version=hashlib.sha256("".join(map(sql_file, REFRESH_SQL[target])).encode()).hexdigest()[:16],
        metadata={TABLE_NAME: table},
        owners=OWNERS,
        automation_condition=FOLLOW_LOADS,
    )
    def refreshed(context: AssetExecutionContext, config: DerivedConfig,
                  warehouse: WarehouseResource) -> MaterializeResult:
        start, end = context.partition_time_window
        figures = DayFigures(context)
        with warehouse.connect() as conn:
            marks = recompute(conn, (start - timedelta(days=1), end), config.full_refresh)
            figures.add_per_day("accounts_recomputed", Counter(day for *_, day in marks))
            cursor = conn.execute(sql_file(count_sql), {"start": start, "end": end,
                                                        "first": start.date(), "last": end.date()})
            figures.add_rows(cursor.fetchall(), [column.name for column in cursor.description or ()][1:])
            figures.publish(conn, table)
        context.log.info(f"{target}: recomputed {len(marks)} account day(s) of"
                         f" [{(start - timedelta(days=1)).date()}, {end.date()})")
        return MaterializeResult()

    return refreshed


def account_rows(accounts: Iterable[ProviderAccount]) -> Iterator[AccountRow]:
    """mart.dim_account's rows for the configured accounts: each account's own, and one per
    customer it names (in `customers` or `customer_names`)."""
    for source in accounts:
        start, end = source.peak_hours
        own = AccountRow(source.provider, source.account, None, source.display_name or source.account, None,
                         source.time_zone, source.holiday_country, start, end)
        yield own
        names = dict(source.customer_names)
        for customer in dict.fromkeys([*source.customers, *names]):
            yield own._replace(customer=customer, customer_name=names.get(customer, customer))


def build_derived_assets(leg_loads: list[AssetKey], other_loads: list[AssetKey],
                         partitions: PartitionsDefinition,
                         accounts: Sequence[ProviderAccount] = ()) -> list[AssetsDefinition]:
    """`calls` and `call_leg_aggregates`, downstream of the load assets that produce legs, and
    `mart` after them and the other loads (Telecom X's counters, read by mart.kpi_employee_daily
    in each account's zone: so there is a mart with Telecom X alone too)."""
    derived = []
    if leg_loads:
        calls = _build_refresh_asset(
            "calls", "calls", "cdr.fact_call", list(leg_loads),
            "cdr.fact_call: legs assembled into calls (linked by call key and b-leg).",
            "aggregates/count_calls.sql", partitions)
        call_leg_aggregates = _build_refresh_asset(
            "call_leg_aggregates", "aggregates", "cdr.agg_call_leg_daily", [*leg_loads, calls],
            "cdr.agg_call_leg_hourly and cdr.agg_call_leg_daily for the partition's days.",
            "aggregates/count_leg_aggregates.sql", partitions)
        derived = [calls, call_leg_aggregates]
    if not derived and not other_loads:
        return []
    numbers = [build_number_dimension(leg_loads, partitions)] if leg_loads else []
    rows = list(account_rows(accounts))
    mart = _build_refresh_asset(
        "mart", "mart", "mart.kpi_daily", [*derived, *numbers, *other_loads],
        "The BI mart: mart.kpi_daily and kpi_hourly for the local dates (each account's reporting zone)"
        " of the days whose calls changed, and the dimensions (accounts, dates, new numbers).",
        "mart/count_kpis.sql", partitions,
        refresh=lambda conn, window, full: refresh_mart(conn, window, rows, full=full), group_name="mart")
    return [*derived, *numbers, mart]


def build_number_dimension(leg_loads: list[AssetKey], partitions: PartitionsDefinition) -> AssetsDefinition:
    """`number_dimension`: the numbers of the range's legs that cdr.number_enrichment (the mart's
    dim_number) has not seen, enriched with phonenumbers once each."""

    @asset(
        name="number_dimension",
        group_name="mart",
        deps=list(leg_loads),
        partitions_def=partitions,
        backfill_policy=single_run,
        kinds={"postgres"},
        description="mart.dim_number: each new number of the loaded legs, with its country, type and region"
                    " (phonenumbers), enriched once.",
        code_version=hashlib.sha256(sql_file("mart/new_numbers.sql").encode()).hexdigest()[:16],
        metadata={TABLE_NAME: "cdr.number_enrichment"},
        owners=OWNERS,
        automation_condition=FOLLOW_LOADS,
    )
    def number_dimension(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        start, end = context.partition_time_window
        with warehouse.connect() as conn:
            added = enrich_new_numbers(conn, (start - timedelta(days=1), end))
        context.log.info(f"number_dimension: {added} new number(s) in [{(start - timedelta(days=1)).date()},"
                         f" {end.date()})")
        return MaterializeResult(metadata={"numbers_added": added})

    return number_dimension
