"""The report's figures against the mart (issue 17): every number the file shows, in its headline
cards, its tables and its charts, equals a query on the mart for the same period and filters.

The expected figures are counted here from the call-level view mart.calls (the report reads the
stored KPIs, mart.kpi_daily and kpi_hourly), and the data-quality flags are worked out here from
the documented thresholds; so a report that read a KPI wrongly, or filtered, grouped or flagged
wrongly, disagrees. The data: the demo's load of tests/report/conftest.py."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import orjson
import psycopg
import pytest
from lxml import html

from pipelines.report import ReportRequest, write_report
from pipelines.report.data import DEFAULT_WARN_SHARE, SETTLE_HOURS
from pipelines.warehouse.connection import PROJECT_ROOT
from tests.conftest import rows

# Every selection a user can make: none, a provider, an account
SELECTIONS = [(None, None), ("tenios", None), ("mixvoip", None), (None, "belfabriek-demo")]
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_FILTER = "AND provider = coalesce(%(provider)s, provider) AND account = coalesce(%(account)s, account)"


def close(shown: str | None, expected) -> bool:
    """An exact value from the file against the mart's: equal, to the last of many decimals."""
    if expected is None or shown in (None, ""):
        return expected is None and shown in (None, "")
    return abs(Decimal(shown) - Decimal(expected)) < Decimal("1e-9")


class Report:
    """A written report, read back as a browser would get it: its HTML."""

    def __init__(self, path: Path):
        self.text = path.read_text()
        self.doc = html.fromstring(self.text)

    def headline(self, key: str) -> tuple[str, str]:
        [card] = self.doc.xpath(f'//*[@id="headline-{key}"]')
        return card.get("data-value"), card.get("data-previous")

    def table(self, id: str) -> list[dict[str, str]]:
        [table] = self.doc.xpath(f'//table[@id="{id}"]')
        keys = [th.get("data-key") for th in table.xpath("./thead/tr/th")]
        return [dict(zip(keys, (td.get("data-value") for td in tr.xpath("./td")), strict=True))
                for tr in table.xpath("./tbody/tr")]

    def chart(self, id: str) -> dict:
        [spec] = self.doc.xpath(f'//script[@class="chart-spec"][@data-target="{id}"]')
        return orjson.loads(spec.text)


def params(loaded, provider=None, account=None) -> dict:
    return {"from": loaded.first, "to": loaded.last, "provider": provider, "account": account}


def write(loaded, tmp_path, provider=None, account=None, first=None, last=None) -> Report:
    path = tmp_path / f"report-{provider}-{account}.html"
    with psycopg.connect(loaded.url) as conn:
        write_report(conn, ReportRequest(first or loaded.first, last or loaded.last, provider, account), path)
    return Report(path)


def calls_totals(url: str, first: date, last: date, provider, account) -> dict:
    [row] = rows(url, f"""
        SELECT count(*), count(*) FILTER (WHERE outcome = 'answered'),
               (SELECT sum(answered)::numeric / nullif(sum(calls) FILTER (WHERE asr IS NOT NULL), 0)
                FROM mart.kpi_daily WHERE local_date BETWEEN %(from)s AND %(to)s {_FILTER}),
               sum(talk_s)::numeric / nullif(count(*) FILTER (WHERE outcome = 'answered'), 0),
               coalesce(sum(talk_s), 0) / 60.0, sum(cost_eur)
        FROM mart.calls WHERE local_date BETWEEN %(from)s AND %(to)s {_FILTER}""",
                 {"from": first, "to": last, "provider": provider, "account": account})
    return dict(zip(("calls", "answered", "asr", "acd_s", "minutes", "cost_eur"), row, strict=True))


def test_the_asset_wrote_the_demos_report_and_links_it(loaded):
    [event] = [e for e in loaded.result.get_asset_materialization_events()
               if e.asset_key.path == ["cdr_report"] and e.partition == loaded.last.isoformat()]
    metadata = {name: entry.value for name, entry in event.materialization.metadata.items()}
    assert Path(metadata["path"]) == loaded.report
    assert metadata["url"] == loaded.report.resolve().as_uri()
    assert metadata["period"] == f"{loaded.first} .. {loaded.last}"
    assert metadata["bytes"] == loaded.report.stat().st_size
    # the report of the run's days, every account
    period = Report(loaded.report).doc.xpath('//*[@id="period"]')[0]
    assert (period.get("data-from"), period.get("data-to"), period.get("data-provider")) == \
        (loaded.first.isoformat(), loaded.last.isoformat(), "")
    everything = calls_totals(loaded.url, loaded.first, loaded.last, None, None)
    assert metadata["calls"] == everything["calls"] > 0


@pytest.mark.parametrize("provider, account", SELECTIONS)
def test_headline_figures_and_their_previous_period_equal_the_mart(loaded, tmp_path, provider, account):
    # The period's second half: the first half is its previous period, so both have calls
    first = loaded.first + timedelta(days=1)
    report = write(loaded, tmp_path, provider, account, first=first, last=first)
    current = calls_totals(loaded.url, first, first, provider, account)
    previous = calls_totals(loaded.url, loaded.first, loaded.first, provider, account)
    assert current["calls"] > 0 and previous["calls"] > 0
    for key in ("calls", "asr", "acd_s", "minutes", "cost_eur"):
        shown, shown_previous = report.headline(key)
        assert close(shown, current[key]), (key, shown, current[key])
        assert close(shown_previous, previous[key]), (key, shown_previous, previous[key])


@pytest.mark.parametrize("provider, account", SELECTIONS)
def test_the_daily_table_and_charts_equal_the_mart_per_account(loaded, tmp_path, provider, account):
    report = write(loaded, tmp_path, provider, account)
    expected = rows(loaded.url, f"""
        SELECT local_date, provider, account_name, count(*), count(*) FILTER (WHERE outcome = 'answered'),
               count(*) FILTER (WHERE outcome NOT IN ('answered', 'unknown')),
               (SELECT sum(k.answered)::numeric / nullif(sum(k.calls) FILTER (WHERE k.asr IS NOT NULL), 0)
                FROM mart.kpi_daily k WHERE (k.local_date, k.provider, k.account)
                                            = (c.local_date, c.provider, c.account)),
               coalesce(sum(talk_s), 0) / 60.0, sum(cost_eur)
        FROM mart.calls c WHERE local_date BETWEEN %(from)s AND %(to)s {_FILTER}
        GROUP BY 1, 2, 3, c.account ORDER BY 1, 2, 3""", params(loaded, provider, account))
    table = report.table("accounts-table")
    assert len(table) == len(expected) > 0
    for shown, (day, prov, name, *counts, asr, minutes, cost) in zip(table, expected, strict=True):
        assert (shown["local_date"], shown["provider"], shown["account_name"]) == \
            (day.isoformat(), prov, name)
        assert [int(shown[key]) for key in ("calls", "answered", "missed")] == counts
        assert close(shown["asr"], asr) and close(shown["minutes"], minutes)
        assert close(shown["cost_eur"], cost)
    # the chart's stacked bars add up to the calls of each day
    calls_chart = report.chart("chart-calls")
    per_day: dict[str, int] = {}
    for trace in calls_chart["data"]:
        if trace["type"] == "bar":
            for day, value in zip(trace["x"], trace["y"], strict=True):
                per_day[day[:10]] = per_day.get(day[:10], 0) + value
    expected_per_day: dict[str, int] = {}
    for day, _provider, _name, calls, *_ in expected:
        expected_per_day[day.isoformat()] = expected_per_day.get(day.isoformat(), 0) + calls
    assert per_day == expected_per_day


@pytest.mark.parametrize("provider, account", SELECTIONS)
def test_the_weekday_hour_heatmap_equals_the_mart_in_local_time(loaded, tmp_path, provider, account):
    report = write(loaded, tmp_path, provider, account)
    expected = [[0] * 24 for _ in WEEKDAYS]
    for weekday, hour, calls in rows(loaded.url, f"""
            SELECT weekday, local_hour, count(*) FROM mart.calls
            WHERE local_date BETWEEN %(from)s AND %(to)s {_FILTER} GROUP BY 1, 2""",
                                     params(loaded, provider, account)):
        expected[weekday - 1][hour] = calls
    table = report.table("heatmap-table")
    assert [row["weekday_name"] for row in table] == list(WEEKDAYS)
    assert [[int(row[f"h{hour:02d}"]) for hour in range(24)] for row in table] == expected
    assert [int(row["total"]) for row in table] == [sum(line) for line in expected]
    [heatmap] = report.chart("chart-heatmap")["data"]
    assert heatmap["z"] == expected


@pytest.mark.parametrize("provider, account", SELECTIONS)
@pytest.mark.parametrize("dimension, table_id", [
    ("coalesce(destination_country, 'unknown')", "countries-table"),
    ("destination_number_type", "number-types-table")])
def test_top_destinations_equal_the_mart(loaded, tmp_path, provider, account, dimension, table_id):
    report = write(loaded, tmp_path, provider, account)
    expected = rows(loaded.url, f"""
        SELECT {dimension} AS destination, count(*) AS calls,
               count(*) FILTER (WHERE direction = 'outbound'), count(*) FILTER (WHERE direction = 'inbound'),
               count(*) FILTER (WHERE outcome = 'answered'), coalesce(sum(talk_s), 0) / 60.0
        FROM mart.calls WHERE local_date BETWEEN %(from)s AND %(to)s {_FILTER}
        GROUP BY 1 ORDER BY calls DESC, destination LIMIT 10""", params(loaded, provider, account))
    table = report.table(table_id)
    assert len(table) == len(expected) > 0
    for shown, (destination, calls, outbound, inbound, answered, minutes) in \
            zip(table, expected, strict=True):
        assert shown["destination"] == destination
        assert [int(shown[k]) for k in ("calls", "outbound", "inbound", "answered")] == \
            [calls, outbound, inbound, answered]
        assert int(shown["other"]) == calls - outbound - inbound
        assert close(shown["minutes"], minutes)


@pytest.mark.parametrize("provider, account", SELECTIONS)
def test_top_service_numbers_equal_the_mart(loaded, tmp_path, provider, account):
    report = write(loaded, tmp_path, provider, account)
    expected = rows(loaded.url, f"""
        SELECT service_number, provider, account, count(*) AS calls,
               count(*) FILTER (WHERE outcome = 'answered')
        FROM mart.calls WHERE service_number IS NOT NULL AND local_date BETWEEN %(from)s AND %(to)s {_FILTER}
        GROUP BY 1, 2, 3 ORDER BY calls DESC, 1, 2, 3 LIMIT 10""", params(loaded, provider, account))
    table = report.table("service-numbers-table")
    assert [(r["service_number"], r["provider"], int(r["calls"]), int(r["answered"])) for r in table] == \
        [(number, prov, calls, answered) for number, prov, _, calls, answered in expected]
    if not expected:  # Belfabriek's calls name no service number here: said, not an empty chart
        assert "No service numbers in this period." in report.text


def test_telecom_x_per_employee_counters_equal_the_mart(loaded, tmp_path):
    report = write(loaded, tmp_path, "telecomx")
    expected = rows(loaded.url, """
        SELECT employee_id, max(employee_name),
               sum(calls) FILTER (WHERE direction = 'outbound'),
               sum(answered) FILTER (WHERE direction = 'outbound'),
               sum(calls) FILTER (WHERE direction = 'inbound'),
               sum(missed) FILTER (WHERE direction = 'inbound')
        FROM mart.kpi_employee_daily WHERE local_date BETWEEN %(from)s AND %(to)s GROUP BY 1""",
                    params(loaded))
    assert expected
    keys = ("outbound_calls", "outbound_answered", "inbound_calls", "inbound_missed")
    shown = {(r["employee_name"], *(int(r[key]) for key in keys)) for r in report.table("employees-table")}
    assert shown == {(name, *map(int, counts)) for _, name, *counts in expected}
    # and nowhere else: TENIOS has no per-employee counters
    assert "No Telecom X per-employee counters for this selection." in write(loaded, tmp_path, "tenios").text


def flag(row: dict) -> str:
    """The documented thresholds (the report's section text, sql/report/data_quality.sql)."""
    if not row["last_fetched_at"] or not row["last_loaded_at"] or int(row["quarantined_pages"]) > 0 \
            or (row["mismatch"] not in ("", "0")) \
            or int(row["quarantined"]) > DEFAULT_WARN_SHARE * int(row["records_fetched"]):
        return "red"
    day_ended = datetime.combine(date.fromisoformat(row["day"]) + timedelta(days=1), time(), UTC)
    fetched_after = datetime.fromisoformat(row["last_fetched_at"]) - day_ended
    if int(row["quarantined"]) > 0 or fetched_after < timedelta(hours=SETTLE_HOURS):
        return "amber"
    return "green"


def quality_report(loaded, tmp_path, damage: str = "") -> list[dict[str, str]]:
    """The data-quality table of a report written with `damage` done to the warehouse, in a
    transaction rolled back afterwards (the report reads what its own connection sees)."""
    path = tmp_path / "quality.html"
    with psycopg.connect(loaded.url) as conn:
        if damage:
            conn.execute(damage)
        write_report(conn, ReportRequest(loaded.first, loaded.last), path)
        conn.rollback()
    return Report(path).table("data-quality-table")


def test_data_quality_is_green_for_a_clean_load_and_lists_every_account_and_day(loaded, tmp_path):
    table = quality_report(loaded, tmp_path)
    expected = rows(loaded.url, """
        SELECT day, provider, account, sum(records_fetched), sum(legs), sum(quarantined)
        FROM mart.data_quality_daily WHERE day BETWEEN %(from)s AND %(to)s
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
                    params(loaded))
    assert [(r["day"], r["provider"], int(r["records_fetched"]), int(r["legs"]), int(r["quarantined"]))
            for r in table] == [(d.isoformat(), p, f, legs, q) for d, p, _a, f, legs, q in expected]
    assert len({r["provider"] for r in table}) == len(PROVIDERS_LOADED)
    # fetched weeks after the days ended, nothing quarantined, TENIOS's counts reconciled
    assert {r["flag"] for r in table} == {"green"} == {flag(r) for r in table}


PROVIDERS_LOADED = ("belfabriek", "mixvoip", "telecomx", "tenios")
FIRST_WINDOW = "(SELECT min(window_start) FROM cdr.window_fetch WHERE provider = 'tenios')"


@pytest.mark.parametrize("damage, expected_flag, reason", [
    # one record quarantined of the day's hundreds: within the 1 % limit
    (f"""INSERT INTO cdr.quarantine (provider, account, raw_response_id, record_index, reason)
         SELECT provider, account, raw_response_ids[1], 100000, 'test' FROM cdr.window_fetch
         WHERE provider = 'mixvoip' AND window_start = {FIRST_WINDOW}""", "amber", "records quarantined"),
    # a tenth of the records quarantined: above it
    (f"""INSERT INTO cdr.quarantine (provider, account, raw_response_id, record_index, reason)
         SELECT provider, account, raw_response_ids[1], 100000 + n, 'test'
         FROM cdr.window_fetch, generate_series(1, records / 10) AS n
         WHERE provider = 'mixvoip' AND window_start = {FIRST_WINDOW}""", "red",
     "quarantined share above the limit"),
    # a leg lost: the provider's count no longer reconciles
    (f"""DELETE FROM cdr.fact_call_leg WHERE leg_key = (
         SELECT min(leg_key) FROM cdr.fact_call_leg WHERE provider = 'tenios'
         AND started_at >= {FIRST_WINDOW} AND started_at < {FIRST_WINDOW} + interval '1 day')""", "red",
     "provider count mismatch"),
    # a day fetched but its load never recorded
    (f"DELETE FROM cdr.window_load WHERE provider = 'tenios' AND window_start = {FIRST_WINDOW}", "red",
     "fetched, never loaded"),
    # fetched just after the day ended: late records may still come
    (f"""UPDATE cdr.window_fetch SET fetched_at = window_end + interval '3 hours'
         WHERE provider = 'tenios' AND window_start = {FIRST_WINDOW}""", "amber",
     "fetched soon after the day ended"),
    # a day never fetched, after the account's first
    (f"""DELETE FROM cdr.window_fetch WHERE provider = 'tenios'
         AND window_start = {FIRST_WINDOW} + interval '1 day'""", "red", "not fetched"),
])
def test_data_quality_flags_a_damaged_day(loaded, tmp_path, damage, expected_flag, reason):
    table = quality_report(loaded, tmp_path, damage)
    flagged = [r for r in table if r["flag"] != "green"]
    assert [(r["flag"], r["reason"]) for r in flagged] == [(expected_flag, reason)]
    assert all(flag(r) == r["flag"] for r in table), [(r, flag(r)) for r in table if flag(r) != r["flag"]]


def test_every_chart_has_a_table_for_screen_readers_and_the_file_fetches_nothing(loaded):
    report = Report(loaded.report)
    charts = report.doc.xpath('//div[@class="chart"]')
    assert len(charts) == 8  # calls, minutes, heatmap, countries, number types, services, employees, quality
    for chart in charts:
        assert chart.get("role") == "img" and chart.get("aria-labelledby")
        assert report.doc.xpath(f'//table[@id="{chart.get("aria-describedby")}"]/tbody/tr'), chart.get("id")
    # every script inline, and a policy that refuses any request
    assert not report.doc.xpath("//script[@src] | //link[@href] | //img[@src] | //iframe")
    [policy] = report.doc.xpath('//meta[@http-equiv="Content-Security-Policy"]/@content')
    assert "default-src 'none'" in policy


def test_the_report_holds_aggregates_not_calls(loaded):
    """No caller number of any call is in the file (the company's own numbers aside): it embeds no
    call, so its size does not grow with them (the Plotly library is most of it)."""
    text = Report(loaded.report).text
    callers = {number for (number,) in rows(loaded.url, """
        SELECT caller_number FROM mart.calls WHERE caller_number LIKE '+%%'
        EXCEPT SELECT service_number FROM mart.calls""")}
    assert len(callers) > 100
    assert not [number for number in callers if number in text]
    assert Path(loaded.report).stat().st_size < 5_500_000


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "report", *args], capture_output=True,
                          text=True, cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
                          timeout=120)


def test_cdr_etl_report_writes_the_filtered_report(loaded, tmp_path):
    out = tmp_path / "tenios.html"
    done = run_cli("--from", loaded.first.isoformat(), "--to", loaded.last.isoformat(),
                   "--provider", "tenios", "--out", str(out))
    assert done.returncode == 0, done.stderr
    expected = calls_totals(loaded.url, loaded.first, loaded.last, "tenios", None)
    assert f"{expected['calls']:,} calls" in done.stdout and str(out) in done.stdout
    assert int(Report(out).headline("calls")[0]) == expected["calls"]
    assert {r["provider"] for r in Report(out).table("accounts-table")} == {"tenios"}


def test_cdr_etl_report_defaults_to_the_last_30_days(loaded, tmp_path):
    out = tmp_path / "default.html"
    done = run_cli("--out", str(out))
    assert done.returncode == 0, done.stderr
    period = Report(out).doc.xpath('//*[@id="period"]')[0]
    first, last = date.fromisoformat(period.get("data-from")), date.fromisoformat(period.get("data-to"))
    assert (last - first).days == 29
    assert last == datetime.now(UTC).astimezone().date() - timedelta(days=1)  # yesterday, local


@pytest.mark.parametrize("args, message", [
    (["--account", "tenios-dem"],
     "--account='tenios-dem': unknown account in the mart; did you mean 'tenios-demo'?"),
    (["--provider", "tenios", "--account", "mixvoip-demo"], "unknown account of provider tenios in the mart"),
    (["--provider", "teniso"], "--provider='teniso': unknown provider; did you mean 'tenios'?"),
    (["--from", "2026-11-05", "--to", "2026-11-01"], "--from='2026-11-05': after --to (2026-11-01)"),
])
def test_a_mistake_in_the_arguments_is_one_line(loaded, tmp_path, args, message):
    done = run_cli(*args, "--out", str(tmp_path / "never.html"))
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and message in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "never.html").exists()
