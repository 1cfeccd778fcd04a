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


def days_in(window: Window, days_per_chunk: int = 1) -> Iterator[Window]:
    """Split a partition time window into chunks of whole UTC days (one day unless asked)."""
    start, end = window
    chunk_start = start.astimezone(UTC)
    while chunk_start < end:
        chunk_end = chunk_start + timedelta(days=days_per_chunk)
        yield chunk_start, min(chunk_end, end)
        chunk_start = chunk_end


# Derived tables are recomputed a month of days per statement: far cheaper per day than one day
# at a time (the call assembly reads a day either side of its range), still bounded for a
# multi-year backfill.
DERIVED_CHUNK_DAYS = 31


def day_window(day: str) -> Window:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return start, start + timedelta(days=1)
