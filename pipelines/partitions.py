"""Daily UTC partitions: nightly runs and backfills of any historical range."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from dagster import BackfillPolicy, DailyPartitionsDefinition

from pipelines.model import Window

UTC = UTC

# One run for a whole range: assets loop over its days, one transaction per day, so a year's
# backfill is one run with bounded memory instead of 365 runs (DAGSTER.md: daemon limits).
single_run = BackfillPolicy.single_run()


# The daily partitions' key format, so a UTC day found by `days_in` names its partition.
DAY_KEY_FORMAT = "%Y-%m-%d"


def daily_partitions(start_date: str) -> DailyPartitionsDefinition:
    return DailyPartitionsDefinition(start_date=start_date, timezone="UTC", fmt=DAY_KEY_FORMAT)


def partition_key(day: Window) -> str:
    """The key of the daily partition that is the UTC day `day` (one of `days_in`)."""
    return day[0].astimezone(UTC).strftime(DAY_KEY_FORMAT)


def days_in(window: Window) -> Iterator[Window]:
    """Split a partition time window into whole UTC days."""
    start, end = window
    day = start.astimezone(UTC)
    while day < end:
        yield day, min(day + timedelta(days=1), end)
        day += timedelta(days=1)


def day_window(day: str) -> Window:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return start, start + timedelta(days=1)
