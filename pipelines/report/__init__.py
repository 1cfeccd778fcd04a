"""The report (issue 17): one self-contained HTML file a manager opens before a BI tool.

It reads the BI mart only (sql/report/*.sql over schema `mart`), for a period of local dates and
optionally one provider and one account: headline figures against the previous period of equal
length; per provider and account, daily calls, answered, ASR, minutes and cost; a weekday x hour
heatmap in local time; top destination countries, number types and service numbers; Telecom X's
per-employee counters; data quality per UTC day and account, flagged green, amber or red (the
thresholds: sql/report/data_quality.sql). Every query aggregates, so the file's size depends on
the days and the accounts, never on the number of calls.

Written by `cdr-etl report`, by the Dagster asset `cdr_report` after the mart, and by `make demo`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pipelines.report.data import DEFAULT_DAYS, ReportRequest, check_filters, last_days, read_report
from pipelines.report.render import render, write_atomically

__all__ = ["DEFAULT_DAYS", "ReportFile", "ReportRequest", "last_days", "write_report"]


@dataclass(frozen=True)
class ReportFile:
    path: Path
    bytes: int
    seconds: float  # to read the mart and write the file
    calls: int      # in the period, for the selection


def write_report(conn: psycopg.Connection, request: ReportRequest, path: Path) -> ReportFile:
    """Read the mart for `request` and write the report to `path` (its folder made if need be)."""
    started = time.perf_counter()
    check_filters(conn, request)
    data = read_report(conn, request)
    size = write_atomically(path, render(data))
    return ReportFile(path, size, time.perf_counter() - started, data.headline["current"]["calls"])
