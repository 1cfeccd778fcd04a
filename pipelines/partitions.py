"""Daily UTC partitions: nightly runs and backfills of any historical range."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Iterator

from dagster import BackfillPolicy, DailyPartitionsDefinition

from pipelines.providers.base import Window

UTC = timezone.utc
START_DATE = os.environ.get("CDR_START_DATE", "2024-01-01")

daily_partitions = DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC")

# One run for a whole range: assets loop over its days, one transaction per day, so a year's
# backfill is one run with bounded memory instead of 365 runs (DAGSTER.md: daemon limits).
single_run = BackfillPolicy.single_run()


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
