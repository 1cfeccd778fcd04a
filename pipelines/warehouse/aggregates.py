"""Derived tables, recomputed for the days a load touched: assembled calls and leg aggregates."""
from __future__ import annotations

from pipelines.providers.base import Window
from pipelines.sql import run_script


def refresh_calls(conn, window: Window) -> None:
    run_script(conn, "aggregates/refresh_calls.sql", {"from": window[0], "to": window[1]})


def refresh_leg_aggregates(conn, window: Window) -> None:
    run_script(conn, "aggregates/refresh_leg_aggregates.sql", {"from": window[0], "to": window[1]})
