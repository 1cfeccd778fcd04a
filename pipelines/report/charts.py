"""The report's Plotly figures, built from the rows pipelines.report.data read. Each is a figure
of aggregates only; every one has a plain table beside it (pipelines.report.render)."""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pipelines.report.data import Row

# A chart with more series than this shows the largest ones and sums the rest as one "other":
# with 200 accounts a legend of 200 names is no longer read, and the table lists them all.
MAX_SERIES = 10
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Colour-blind safe (Okabe-Ito), with the flags in colours that also differ in lightness
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#999999", "#882255")
_DAY_MS = 86_400_000
FLAG_COLOURS = {"green": "#1a7f37", "amber": "#d4a72c", "red": "#cf222e"}
DIRECTIONS = (("outbound", "outbound"), ("inbound", "inbound"), ("other", "internal or unknown"))
_LAYOUT: dict[str, Any] = {
    "template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
    "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13},
    "legend": {"orientation": "h", "y": -0.15}, "hovermode": "x unified",
}


def account_label(row: Row) -> str:
    return f"{row['provider']} · {row['account_name']}"


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _series(daily: Sequence[Row]) -> tuple[list[str], dict[str, str]]:
    """The series of the per-account charts, largest first (by calls), and each account's series:
    the MAX_SERIES - 1 largest accounts by name, the rest in one "other accounts" series."""
    calls: dict[str, int] = defaultdict(int)
    for row in daily:
        calls[account_label(row)] += row["calls"]
    ranked = sorted(calls, key=lambda label: (-calls[label], label))
    if len(ranked) <= MAX_SERIES:
        return ranked, {label: label for label in ranked}
    kept = ranked[:MAX_SERIES - 1]
    other = f"{len(ranked) - len(kept)} other accounts"
    return [*kept, other], {label: label if label in kept else other for label in ranked}


def _per_series_day(daily: Sequence[Row], measures: Sequence[str]) -> tuple[list[date], list[str],
                                                                           dict[tuple[str, date], dict]]:
    names, series_of = _series(daily)
    dates = sorted({row["local_date"] for row in daily})
    sums: dict[tuple[str, date], dict[str, Any]] = {}
    for row in daily:
        cell = sums.setdefault((series_of[account_label(row)], row["local_date"]),
                               dict.fromkeys(measures))
        for measure in measures:
            if row[measure] is not None:
                cell[measure] = (cell[measure] or 0) + row[measure]
    return dates, names, sums


def _date_axis(figure: go.Figure, dates: Sequence[date]) -> None:
    """A tick a day, or every few days so that there are at most 14, named by the date."""
    figure.update_xaxes(type="date", tickformat="%a %d %b",
                        dtick=_DAY_MS * max(1, math.ceil(len(dates) / 14)))


def calls_and_asr(daily: Sequence[Row]) -> go.Figure:
    dates, names, sums = _per_series_day(daily, ("calls", "answered", "asr_calls"))
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38], vertical_spacing=0.12,
                           subplot_titles=("Calls per day", "ASR per day (answered / calls)"))
    for index, name in enumerate(names):
        colour = PALETTE[index % len(PALETTE)]
        cells = [sums.get((name, day)) for day in dates]
        figure.add_trace(go.Bar(x=dates, y=[cell["calls"] if cell else 0 for cell in cells], name=name,
                                legendgroup=name, marker_color=colour,
                                hovertemplate="%{y:,} calls"), row=1, col=1)
        # over the calls of rows with a known outcome, as mart.kpi_daily.asr (docs/mart.md)
        asr = [None if not cell or not cell["asr_calls"] else cell["answered"] / cell["asr_calls"]
               for cell in cells]
        figure.add_trace(go.Scatter(x=dates, y=[_number(a) for a in asr], name=name, legendgroup=name,
                                    showlegend=False, mode="lines+markers", line_color=colour,
                                    hovertemplate="ASR %{y:.1%}"), row=2, col=1)
    figure.update_layout(_LAYOUT, barmode="stack", height=560)
    _date_axis(figure, dates)
    figure.update_yaxes(title_text="calls", row=1, col=1)
    figure.update_yaxes(title_text="ASR", tickformat=".0%", rangemode="tozero", row=2, col=1)
    return figure


def minutes_and_cost(daily: Sequence[Row]) -> go.Figure:
    dates, names, sums = _per_series_day(daily, ("minutes", "cost_eur"))
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                           subplot_titles=("Minutes of conversation per day", "Cost per day (EUR)"))
    for index, name in enumerate(names):
        colour = PALETTE[index % len(PALETTE)]
        cells = [sums.get((name, day)) for day in dates]
        figure.add_trace(go.Bar(x=dates, y=[_number(cell["minutes"]) if cell else 0 for cell in cells],
                                name=name, legendgroup=name, marker_color=colour,
                                hovertemplate="%{y:,.1f} min"), row=1, col=1)
        figure.add_trace(go.Bar(x=dates, y=[_number(cell["cost_eur"]) if cell else None for cell in cells],
                                name=name, legendgroup=name, showlegend=False, marker_color=colour,
                                hovertemplate="€%{y:,.2f}"), row=2, col=1)
    figure.update_layout(_LAYOUT, barmode="stack", height=560)
    _date_axis(figure, dates)
    figure.update_yaxes(title_text="minutes", row=1, col=1)
    figure.update_yaxes(title_text="EUR", row=2, col=1)
    return figure


def weekday_hour(rows: Sequence[Row]) -> go.Figure:
    calls = [[0] * 24 for _ in WEEKDAYS]
    for row in rows:
        calls[row["weekday"] - 1][row["local_hour"]] = row["calls"]
    figure = go.Figure(go.Heatmap(z=calls, x=[f"{hour:02d}" for hour in range(24)], y=list(WEEKDAYS),
                                  colorscale="Blues", colorbar={"title": {"text": "calls"}},
                                  hovertemplate="%{y} %{x}:00 · %{z:,} calls<extra></extra>"))
    figure.update_layout(_LAYOUT, height=360, hovermode="closest",
                         xaxis={"title": {"text": "local hour"}, "dtick": 1},
                         yaxis={"autorange": "reversed"})
    return figure


def destinations(rows: Sequence[Row], label: str) -> go.Figure:
    """Horizontal bars, largest on top, split by direction."""
    names = [row["destination"] for row in rows]
    figure = go.Figure([go.Bar(y=names, x=[row[key] for row in rows], name=shown, orientation="h",
                               marker_color=PALETTE[index], hovertemplate="%{x:,} calls")
                        for index, (key, shown) in enumerate(DIRECTIONS)])
    figure.update_layout(_LAYOUT, barmode="stack", height=max(260, 40 + 28 * len(rows)),
                         hovermode="y unified", legend_traceorder="normal",
                         yaxis={"autorange": "reversed", "title": {"text": label}},
                         xaxis={"title": {"text": "calls"}})
    return figure


def service_numbers(rows: Sequence[Row]) -> go.Figure:
    names = [f"{row['service_number']} ({row['account_name']})" for row in rows]
    figure = go.Figure([
        go.Bar(y=names, x=[row["calls"] for row in rows], name="calls", orientation="h",
               marker_color=PALETTE[0], hovertemplate="%{x:,} calls"),
        go.Bar(y=names, x=[row["answered"] for row in rows], name="answered", orientation="h",
               marker_color=PALETTE[2], hovertemplate="%{x:,} answered"),
    ])
    figure.update_layout(_LAYOUT, barmode="group", height=max(260, 40 + 40 * len(rows)),
                         hovermode="y unified",
                         yaxis={"autorange": "reversed"}, xaxis={"title": {"text": "calls"}})
    return figure


def employees(rows: Sequence[Row]) -> go.Figure:
    shown = rows[:25]  # the busiest; the table lists every employee
    names = [f"{row['employee_name'] or row['employee_id']} ({row['extension_number'] or '-'})"
             for row in shown]
    figure = go.Figure([
        go.Bar(y=names, x=[row[key] for row in shown], name=title, orientation="h",
               marker_color=PALETTE[index], hovertemplate="%{x:,} " + title)
        for index, (key, title) in enumerate((("outbound_calls", "outbound calls"),
                                              ("outbound_answered", "outbound answered"),
                                              ("inbound_calls", "inbound calls")))])
    figure.update_layout(_LAYOUT, barmode="group", height=max(260, 40 + 48 * len(shown)),
                         hovermode="y unified",
                         yaxis={"autorange": "reversed"}, xaxis={"title": {"text": "calls"}})
    return figure


FLAG_LEVEL = {"green": 0, "amber": 1, "red": 2}


def data_quality(rows: Sequence[Row]) -> go.Figure:
    """Day x account, each cell its flag's colour, the reason on hover."""
    accounts = sorted({account_label(row) for row in rows})
    days = sorted({row["day"] for row in rows})
    level: list[list[int | None]] = [[None] * len(days) for _ in accounts]
    reason: list[list[str]] = [[""] * len(days) for _ in accounts]
    for row in rows:
        a, d = accounts.index(account_label(row)), days.index(row["day"])
        level[a][d] = FLAG_LEVEL[row["flag"]]
        reason[a][d] = f"{row['flag']}: {row['reason']}" if row["reason"] else row["flag"]
    green, amber, red = FLAG_COLOURS.values()
    figure = go.Figure(go.Heatmap(
        z=level, x=days, y=accounts, zmin=-0.5, zmax=2.5, showscale=False, xgap=2, ygap=2,
        colorscale=[[0, green], [1 / 3, green], [1 / 3, amber], [2 / 3, amber], [2 / 3, red], [1, red]],
        customdata=reason, hovertemplate="%{y}<br>%{x}: %{customdata}<extra></extra>"))
    figure.update_layout(_LAYOUT, height=max(220, 90 + 30 * len(accounts)), hovermode="closest",
                         xaxis={"title": {"text": "UTC day"}, "type": "date", "dtick": _DAY_MS},
                         yaxis={"autorange": "reversed"})
    return figure
