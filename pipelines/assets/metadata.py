"""What Dagster shows of an asset besides its code: each day partition's own figures, the table
the asset writes (dagster/table_name), its columns as the catalog has them (dagster/column_schema),
its rows per day (dagster/row_count), and who owns it.

Figures per day: a ranged run (a single-run backfill, the nightly run) ends in one materialization
per day partition, each carrying whatever metadata the asset returned (../shared/guides/DAGSTER.md),
so returned totals would show the whole run's figures on every day. The assets return none: they
gather each day's own figures in a `DayFigures` and hand them to `add_asset_metadata(...,
partition_key=day)`, which Dagster puts on that partition's materialization alone
(dagster/_core/execution/plan/execute_step.py, `_get_output_asset_events`). The run's totals go to
the run's log.

The column schema is read from the catalog when the asset materializes, not when definitions load:
the code location loads without a database.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import psycopg
from dagster import AssetExecutionContext, TableColumn, TableColumnConstraints, TableSchema
from psycopg import sql

from pipelines.model import Window
from pipelines.partitions import days_in, partition_key
from pipelines.sql import sql_file

# Who answers for the warehouse's assets, as Dagster names an owner (an e-mail or `team:<name>`).
OWNERS = ["team:cdr-warehouse"]
TABLE_NAME = "dagster/table_name"
COLUMN_SCHEMA = "dagster/column_schema"
ROW_COUNT = "dagster/row_count"
# where raw_pages lands, and the column that places a page in its day
RAW_TABLE, RAW_DAY_COLUMN = "cdr.raw_response", "window_start"


def column_schema(conn: psycopg.Connection, table: str) -> TableSchema:
    """`table`'s columns as the catalog has them now."""
    rows = conn.execute(sql_file("metadata/columns.sql"), {"table": table}).fetchall()
    return TableSchema(columns=[
        TableColumn(name, type_name, description=description, constraints=TableColumnConstraints(
            nullable=nullable, other=["primary key"] if in_primary_key else []))
        for name, type_name, nullable, description, in_primary_key in rows])


class DayFigures:
    """Each day partition's own figures, gathered while a run loops over its days and handed to
    Dagster at the end (`publish`), with the column schema of the table the asset writes."""

    def __init__(self, context: AssetExecutionContext) -> None:
        self.context = context
        self.window: Window = context.partition_time_window
        self._by_day: dict[str, dict[str, Any]] = {}

    def add(self, day: Window, figures: Mapping[str, Any]) -> None:
        self._by_day.setdefault(partition_key(day), {}).update(figures)

    def add_per_day(self, figure: str, values: Mapping[date, Any], missing: Any = 0) -> None:
        """`figure` on each day of the run: the day's value in `values`, else `missing`."""
        for day in days_in(self.window):
            self.add(day, {figure: values.get(day[0].date(), missing)})

    def add_rows(self, rows: list[tuple], names: list[str]) -> None:
        """Figures per day from a query's (day, figure, ...) rows; a day it has no row for gets 0s."""
        for index, name in enumerate(names, start=1):
            self.add_per_day(name, {row[0]: row[index] for row in rows})

    def add_row_counts(self, conn: psycopg.Connection, table: str, day_column: str, provider: str,
                       account: str, figure: str = ROW_COUNT) -> None:
        """One account's rows of `table` in each day of the run, placed by `day_column`."""
        query = sql.SQL(sql_file("metadata/rows_per_day.sql")).format(
            table=sql.Identifier(*table.split(".")), column=sql.Identifier(day_column))
        start, end = self.window
        rows = conn.execute(query, {"provider": provider, "account": account,
                                    "start": start, "end": end}).fetchall()
        self.add_rows(rows, [figure])

    def publish(self, conn: psycopg.Connection, table: str) -> None:
        # one call per day: each call lists the run's partitions to check the key against
        for key, figures in self._by_day.items():
            self.context.add_asset_metadata(figures, partition_key=key)
        # no partition key: on every day's materialization
        self.context.add_asset_metadata({COLUMN_SCHEMA: column_schema(conn, table)})
