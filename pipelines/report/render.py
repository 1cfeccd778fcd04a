"""The report as one self-contained HTML file: the Jinja2 template report.html.j2 beside this
module, Plotly's JavaScript inlined, each chart's figure as inline JSON, a plain table with each
chart. Nothing in it is fetched: its Content-Security-Policy forbids any request, so it opens
the same from a file path, a shared drive or an e-mail attachment."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import plotly.io
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from plotly.offline import get_plotlyjs

from pipelines.report import charts
from pipelines.report.data import TOP, ReportData, Row

_TEMPLATES = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: str = "int"  # int | ratio | seconds | minutes | eur | text | date | datetime | flag


@dataclass(frozen=True)
class Table:
    id: str
    caption: str
    columns: Sequence[Column]
    rows: Sequence[Row]


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    figure_json: str  # the figure as Plotly JSON, safe inside <script>


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    intro: str
    charts: Sequence[Chart]
    table: Table | None
    empty: str = ""  # said instead of charts and table when there is nothing to show


@dataclass(frozen=True)
class Headline:
    key: str
    label: str
    kind: str
    value: Any
    previous: Any
    change: str  # "+12.5 %", "-3.1 pts", or "" without a previous figure


def format_value(value: Any, kind: str) -> str:
    """A figure as the report prints it; the exact value goes into data-value beside it."""
    if value is None:
        return "-"
    if kind == "int":
        return f"{value:,}"
    if kind == "ratio":
        return f"{float(value):.1%}"
    if kind == "seconds":
        return f"{float(value):,.0f} s"
    if kind == "minutes":
        return f"{float(value):,.1f}"
    if kind == "eur":
        return f"€{float(value):,.2f}"
    if kind == "datetime":
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def exact(value: Any) -> str:
    """The value with every digit (tests read it back), ISO for dates."""
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _change(current: Any, previous: Any, kind: str) -> str:
    if current is None or previous is None:
        return ""
    if kind == "ratio":  # a change of a share is told in percentage points
        return f"{(float(current) - float(previous)) * 100:+.1f} pts"
    if previous == 0:
        return ""
    return f"{(float(current) - float(previous)) / float(previous):+.1%}"


HEADLINES = (("calls", "Calls", "int"), ("asr", "ASR", "ratio"), ("acd_s", "ACD", "seconds"),
             ("minutes", "Minutes", "minutes"), ("cost_eur", "Cost", "eur"))


def headlines(data: ReportData) -> list[Headline]:
    current, previous = data.headline["current"], data.headline["previous"]
    return [Headline(key, label, kind, current[key], previous[key],
                     _change(current[key], previous[key], kind)) for key, label, kind in HEADLINES]


def _chart(id: str, title: str, figure: Any) -> Chart:
    text = plotly.io.to_json(figure, validate=False)
    # inside <script>: no "</script>" or "<!--" can end it early (names come from the data)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Chart(id, title, text)


DAILY = (Column("local_date", "Date", "date"), Column("provider", "Provider", "text"),
         Column("account_name", "Account", "text"), Column("calls", "Calls"),
         Column("answered", "Answered"), Column("missed", "Missed"), Column("asr", "ASR", "ratio"),
         Column("minutes", "Minutes", "minutes"), Column("cost_eur", "Cost", "eur"))
DESTINATION = (Column("destination", "Destination", "text"), Column("calls", "Calls"),
               Column("outbound", "Outbound"), Column("inbound", "Inbound"),
               Column("other", "Internal or unknown"), Column("answered", "Answered"),
               Column("minutes", "Minutes", "minutes"))
SERVICE = (Column("service_number", "Service number", "text"), Column("provider", "Provider", "text"),
           Column("account_name", "Account", "text"), Column("calls", "Calls"),
           Column("answered", "Answered"), Column("asr", "ASR", "ratio"),
           Column("minutes", "Minutes", "minutes"))
EMPLOYEE = (Column("employee_name", "Employee", "text"), Column("extension_number", "Extension", "text"),
            Column("account", "Account", "text"), Column("outbound_calls", "Outbound calls"),
            Column("outbound_answered", "Outbound answered"), Column("outbound_asr", "Outbound ASR", "ratio"),
            Column("inbound_calls", "Inbound calls"), Column("inbound_missed", "Inbound missed"))
QUALITY = (Column("day", "UTC day", "date"), Column("provider", "Provider", "text"),
           Column("account_name", "Account", "text"), Column("flag", "Flag", "flag"),
           Column("reason", "Why", "text"), Column("records_fetched", "Records fetched"),
           Column("legs", "Legs loaded"), Column("quarantined", "Quarantined records"),
           Column("quarantined_pages", "Quarantined pages"), Column("provider_count", "Provider's count"),
           Column("mismatch", "Mismatch"), Column("last_fetched_at", "Last fetched", "datetime"),
           Column("last_loaded_at", "Last loaded", "datetime"))
HEATMAP = (Column("weekday_name", "Weekday", "text"),
           *(Column(f"h{hour:02d}", f"{hour:02d}") for hour in range(24)), Column("total", "Total"))


def _heatmap_rows(rows: Sequence[Row]) -> list[Row]:
    table: list[Row] = [{"weekday_name": name, **{f"h{hour:02d}": 0 for hour in range(24)}, "total": 0}
                        for name in charts.WEEKDAYS]
    for row in rows:
        line = table[row["weekday"] - 1]
        line[f"h{row['local_hour']:02d}"] = row["calls"]
        line["total"] += row["calls"]
    return table


def _section(id: str, title: str, intro: str, rows: Sequence[Row], table: Table,
             figures: Sequence[tuple[str, str, Callable[[], Any]]], empty: str) -> Section:
    if not rows:
        return Section(id, title, intro, (), None, empty)
    return Section(id, title, intro,
                   [_chart(chart_id, chart_title, build()) for chart_id, chart_title, build in figures],
                   table)


def sections(data: ReportData) -> list[Section]:
    daily, dq = data.daily, data.data_quality
    no_calls = "No calls in this period for this selection."
    return [
        _section("accounts", "Per provider and account",
                 "Calls, answered calls and ASR per local date; minutes of conversation and cost per day. "
                 f"With more than {charts.MAX_SERIES} accounts the charts show the busiest and sum the rest;"
                 " the table lists every account.",
                 daily, Table("accounts-table", "Per local date, provider and account", DAILY, daily),
                 [("chart-calls", "Calls and ASR per day", lambda: charts.calls_and_asr(daily)),
                  ("chart-minutes", "Minutes and cost per day", lambda: charts.minutes_and_cost(daily))],
                 no_calls),
        _section("heatmap", "When calls come in",
                 "Calls by weekday and hour, in each account's local time (mart.kpi_hourly).",
                 data.weekday_hour,
                 Table("heatmap-table", "Calls by local weekday (rows) and hour (columns)", HEATMAP,
                       _heatmap_rows(data.weekday_hour)),
                 [("chart-heatmap", "Calls by weekday and hour",
                   lambda: charts.weekday_hour(data.weekday_hour))],
                 no_calls),
        _section("countries", "Top destination countries",
                 f"The {TOP} countries with the most calls, by the country of the number dialled (for an"
                 " inbound call, the company's own number).",
                 data.countries, Table("countries-table", "Calls by destination country", DESTINATION,
                                       data.countries),
                 [("chart-countries", "Calls by destination country",
                   lambda: charts.destinations(data.countries, "country"))], no_calls),
        _section("number-types", "Destination number types",
                 "Calls by the type of the number dialled (mart.dim_number).", data.number_types,
                 Table("number-types-table", "Calls by destination number type", DESTINATION,
                       data.number_types),
                 [("chart-number-types", "Calls by destination number type",
                   lambda: charts.destinations(data.number_types, "number type"))], no_calls),
        _section("service-numbers", "Top service numbers",
                 f"The {TOP} company numbers with the most calls.", data.service_numbers,
                 Table("service-numbers-table", "Calls per service number", SERVICE, data.service_numbers),
                 [("chart-service-numbers", "Calls and answered calls per service number",
                   lambda: charts.service_numbers(data.service_numbers))],
                 "No service numbers in this period."),
        _section("employees", "Telecom X: per employee",
                 "Telecom X's own counters per employee: calls made and answered, calls offered. A call that"
                 " rang several employees counts for each; inbound answered is not given by the provider"
                 " reliably and is left out.", data.employees,
                 Table("employees-table", "Telecom X per-employee counters", EMPLOYEE, data.employees),
                 [("chart-employees", "Calls per employee", lambda: charts.employees(data.employees))],
                 "No Telecom X per-employee counters for this selection."),
        _section("data-quality", "Data quality",
                 "Per UTC day (the fetch windows are UTC days) and account: records fetched, loaded and"
                 " quarantined, the provider's own count where it has one, and when the day was fetched and"
                 " loaded. Red: not fetched, fetched but never loaded, whole pages quarantined, a mismatch"
                 " with the provider's count, or more than"
                 f" {data.request.quarantine_warn_share:.1%} of the records quarantined. Amber: some records"
                 f" quarantined, or fetched less than {data.request.settle_hours:g} hours after the day ended"
                 " (late records may still come). Green: none of these.", dq,
                 Table("data-quality-table", "Data quality per UTC day and account", QUALITY, dq),
                 [("chart-data-quality", "Data quality flags per day and account",
                   lambda: charts.data_quality(dq))], "Nothing fetched in this period for this selection."),
    ]


@cache
def _environment() -> Environment:
    environment = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["j2"]),
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["shown"] = format_value
    environment.filters["exact"] = exact
    return environment


def render(data: ReportData) -> str:
    """The whole report as HTML."""
    request = data.request
    return _environment().get_template("report.html.j2").render(
        request=request, previous=request.previous, generated_at=data.generated_at,
        headlines=headlines(data), sections=sections(data), flag_colours=charts.FLAG_COLOURS,
        plotly_js=get_plotlyjs())


def write_atomically(path: Path, text: str) -> int:
    """Write `text` to `path` through a file beside it, so a reader never opens half a report;
    return its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode()
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(scratch, 0o644)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    return len(data)
