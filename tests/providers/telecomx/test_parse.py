"""Telecom X parser: the doc's example, interval-key mapping, ambiguous windows, hostile bodies."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from pipelines.config import account_from_env
from pipelines.errors import ConfigurationError
from pipelines.model import Quarantined, RawPage
from pipelines.providers.telecomx import SPEC
from pipelines.providers.telecomx.parse import (
    AmbiguousWindowError,
    PbxStatsRow,
    interval_starts,
    parse_pages,
    request_bounds,
)
from pipelines.providers.telecomx.settings import TelecomXParseSettings

FIXTURES = Path(__file__).parents[3] / "pipelines" / "providers" / "telecomx" / "conformance"
# The doc's example keys 49, 50, 51 are weeks; a request for ISO weeks 49-51 of 2020 returns them.
DOC_PARAMS = {"customer": "12345678901234567890ABCD", "from": "2020-11-30T00:00:00.000Z",
              "to": "2020-12-20T23:59:59.999Z", "groupingInterval": "WEEK"}


def doc_example() -> list:
    return orjson.loads((FIXTURES / "cdrstats_doc_example.json").read_bytes())


def parse(body, params=DOC_PARAMS, raw_id: int = 7, settings: TelecomXParseSettings | None = None):
    if not isinstance(body, bytes):
        body = orjson.dumps(body)
    return list(parse_pages([RawPage(raw_id, 1, body, "application/json", params)], "acct",
                            settings or TelecomXParseSettings()))


def day(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_doc_example_maps_week_keys_to_their_mondays_and_keeps_raw_counters():
    items = parse(doc_example())
    assert len(items) == 9 and all(type(i) is PbxStatsRow for i in items)
    assert [(i.employee_name, i.interval_key, i.interval_start) for i in items[:3]] == [
        ("Bo Madsen", "49", day(2020, 11, 30)), ("Bo Madsen", "50", day(2020, 12, 7)),
        ("Bo Madsen", "51", day(2020, 12, 14))]
    assert items[0] == PbxStatsRow(
        provider="telecomx", account="acct", customer="12345678901234567890ABCD",
        employee_id="5450f1834b75ff21032563a1", extension_id="5bf2b81b462b727cd09b05cd",
        interval_start=day(2020, 11, 30), grain="WEEK", time_zone="UTC", interval_key="49",
        employee_name="Bo Madsen", extension_number="232",
        outbound_calls=80, outbound_seconds=14276, outbound_answered=66, outbound_unanswered=14,
        outbound_failed=0,
        inbound_calls=111, inbound_seconds=27041, inbound_answered=0, inbound_unanswered=9, inbound_busy=0,
        raw_response_id=7)
    # inboundAnswered stays 0 although inboundCalls exceed unanswered + busy: not "fixed"
    assert all(i.inbound_answered == 0 and i.inbound_calls > i.inbound_unanswered + i.inbound_busy
               for i in items)


def test_sunday_week_scheme_reads_the_same_keys_as_sunday_start_weeks():
    # strftime %U for 2020: the first Sunday (5 January) starts week 1, so week 49 starts 6 December
    params = {**DOC_PARAMS, "from": "2020-12-06T00:00:00.000Z", "to": "2020-12-26T23:59:59.999Z"}
    starts = [i.interval_start for i in parse(doc_example(), params,
                                              settings=TelecomXParseSettings(week_scheme="sunday"))[:3]]
    assert starts == [day(2020, 12, 6), day(2020, 12, 13), day(2020, 12, 20)]


def test_week_scheme_and_grouping_zone_come_from_the_environment():
    account = account_from_env(SPEC, {"TELECOMX_WEEK_SCHEME": "Sunday",
                                      "TELECOMX_GROUPING_TIMEZONE": "Europe/Copenhagen"})
    assert account.settings.parse_settings() == TelecomXParseSettings(grouping_timezone="Europe/Copenhagen",
                                                                      week_scheme="sunday")
    for variable, value in (("TELECOMX_WEEK_SCHEME", "monday"), ("TELECOMX_GROUPING_INTERVAL", "YEAR"),
                            ("TELECOMX_GROUPING_TIMEZONE", "Mars/Olympus")):
        with pytest.raises(ConfigurationError, match=variable):
            account_from_env(SPEC, {variable: value})


def test_hour_keys_of_a_utc_day_and_zero_padding():
    starts = interval_starts(day(2026, 11, 2), day(2026, 11, 2, 23, 59, 59), "HOUR")
    assert starts == {h: day(2026, 11, 2, h) for h in range(24)}
    body = [{"employeeId": "e1", "data": {"07": {"inboundCalls": 3}}}]
    params = {"from": "2026-11-02T00:00:00.000Z", "to": "2026-11-02T23:59:59.999Z",
              "groupingInterval": "HOUR"}
    (row,) = parse(body, params)
    assert (row.interval_start, row.interval_key, row.customer, row.inbound_calls, row.outbound_calls) == (
        day(2026, 11, 2, 7), "07", "", 3, None)


def test_hour_keys_read_in_copenhagen_time():
    starts = interval_starts(day(2026, 11, 2), day(2026, 11, 2, 23, 59, 59), "HOUR", "Europe/Copenhagen")
    assert starts[1] == day(2026, 11, 2, 0) and starts[0] == day(2026, 11, 2, 23)


def test_day_and_month_keys():
    assert interval_starts(day(2026, 1, 1), day(2026, 1, 31, 23), "DAY") == \
        {d: day(2026, 1, d) for d in range(1, 32)}
    assert interval_starts(day(2026, 1, 1), day(2026, 12, 31, 23), "MONTH") == \
        {m: day(2026, m, 1) for m in range(1, 13)}


@pytest.mark.parametrize("first, last, grain, tz", [
    (day(2026, 11, 2), day(2026, 11, 3, 0, 30), "HOUR", "UTC"),  # hour 0 of two days
    (day(2026, 10, 25), day(2026, 10, 25, 23, 59), "HOUR", "Europe/Copenhagen"),  # DST fall-back: 02:00 twice
    (day(2026, 1, 1), day(2026, 2, 1), "DAY", "UTC"),  # day 1 of two months
    (day(2025, 12, 1), day(2026, 12, 1), "WEEK", "UTC"),  # a week number of two years
    (day(2025, 12, 1), day(2026, 12, 1), "MONTH", "UTC"),  # December twice
])
def test_ambiguous_windows_are_refused(first, last, grain, tz):
    with pytest.raises(AmbiguousWindowError, match=f"{grain} key .* would name both"):
        interval_starts(first, last, grain, tz)


def test_ambiguous_request_body_is_quarantined_whole():
    params = {"from": "2026-11-02T00:00:00.000Z", "to": "2026-11-03T12:00:00.000Z",
              "groupingInterval": "HOUR"}
    (item,) = parse([{"employeeId": "e1", "data": {"3": {}}}], params)
    assert type(item) is Quarantined and item.record_index == -1 and "would name both" in item.reason


def test_week_and_month_requests_cover_whole_periods():
    wednesday = (day(2026, 11, 4), day(2026, 11, 5))
    just_before = timedelta(milliseconds=1)
    assert request_bounds(wednesday, "HOUR") == (day(2026, 11, 4), day(2026, 11, 5) - just_before)
    assert request_bounds(wednesday, "WEEK") == (day(2026, 11, 2), day(2026, 11, 9) - just_before)
    assert request_bounds(wednesday, "MONTH") == (day(2026, 11, 1), day(2026, 12, 1) - just_before)


@pytest.mark.parametrize("change, field", [
    ({"employeeId": None}, "employeeId"),
    ({"employeeId": 17}, "employeeId"),
    ({"data": [1, 2]}, "data"),
    ({"extensionNumber": {"n": 1}}, "extensionNumber"),
    ({"data": {"49": {"outboundCalls": -1}}}, "data.49.outboundCalls"),
    ({"data": {"49": {"outboundSeconds": 1.5}}}, "data.49.outboundSeconds"),
    ({"data": {"49": {"inboundBusy": "many"}}}, "data.49.inboundBusy"),
    ({"data": {"49": {"inboundCalls": True}}}, "data.49.inboundCalls"),
    ({"data": {"49": "80"}}, "data.49"),
    ({"data": {"2020-W49": {}}}, "data.2020-W49"),
    ({"data": {"12": {}}}, "data.12"),  # week 12 is not in the request window
])
def test_bad_records_are_quarantined_with_the_field(change, field):
    record = {**doc_example()[0], **change}
    items = parse([record])
    bad = [i for i in items if type(i) is Quarantined]
    assert len(bad) == 1
    assert (bad[0].provider, bad[0].field, bad[0].record_index, bad[0].raw_response_id) == \
        ("telecomx", field, 0, 7)


def test_a_bad_interval_keeps_the_employees_other_intervals():
    record = doc_example()[1]
    record["data"]["99"] = record["data"]["49"]
    items = parse([doc_example()[0], record])
    assert [type(i).__name__ for i in items] == ["PbxStatsRow"] * 6 + ["Quarantined"]
    assert items[-1].record_index == 1 and "key 99 names no interval" in items[-1].reason


@pytest.mark.parametrize("body, reason", [
    (b'[{"employeeId": "a"', "not JSON"),
    (b"<html>502 Bad Gateway</html>", "not JSON"),
    (b"employeeId,interval\n1,49\n", "not JSON"),
    (b'{"error": "access_denied"}', "error body: access_denied"),
    (b'{"employees": []}', "expected an array"),
    (b'"ok"', "expected an array"),
    (b"{}", "empty JSON object, not a cdrstats answer"),
    (b'{"token": "abc", "expiresInMinutes": 15}', "an /auth/login answer"),
    (b'{"offset": 0, "limit": 100, "total": 1, "cdr": [{"_id": "x"}]}', "keys cdr, limit, offset, total"),
    (b'[{"_id": "x", "started": "2020-11-24T09:15:02.000Z"}]', "none of them an employee's statistics"),
    (b"[1, 2]", "none of them an employee's statistics"),
])
def test_unreadable_bodies_are_quarantined_whole(body, reason):
    (item,) = parse(body)
    assert type(item) is Quarantined and item.record_index == -1 and reason in item.reason


def test_a_login_answer_is_quarantined_without_its_token():
    (item,) = parse(b'{"token": "session-7d1c0e", "expiresInMinutes": 15, "accessLevel": "MANAGER"}')
    assert "session-7d1c0e" not in item.reason + item.record
    assert '"token":"***"' in item.record.replace(" ", "")


def test_one_employee_without_an_id_among_employees_is_a_bad_record_not_a_foreign_body():
    items = parse([doc_example()[0], {"employeeName": "no id", "data": {}}])
    assert [type(i).__name__ for i in items] == ["PbxStatsRow"] * 3 + ["Quarantined"]
    assert (items[-1].record_index, items[-1].field) == (1, "employeeId")


@pytest.mark.parametrize("params, field", [(None, "request_params"), ({"to": "2020-12-01T00:00:00Z"}, "from"),
                                           ({**DOC_PARAMS, "groupingInterval": "YEAR"}, "groupingInterval")])
def test_missing_or_bad_request_is_quarantined(params, field):
    (item,) = parse(doc_example(), params)
    assert type(item) is Quarantined and item.field == field


def test_employee_without_calls_is_no_rows():
    assert parse([{"employeeId": "e1", "data": {}}, {"employeeId": "e2"}]) == []
    assert parse([]) == []


def test_cli_parse_prints_stats_rows_with_params():
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "parse", "--provider", "telecomx",
                             "--params", orjson.dumps(DOC_PARAMS).decode(),
                             str(FIXTURES / "cdrstats_doc_example.json")], capture_output=True, check=True)
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 9
    assert (lines[0]["interval_start"], lines[0]["grain"], lines[0]["outbound_calls"]) == (
        "2020-11-30T00:00:00+00:00", "WEEK", 80)


def test_cli_parse_without_params_says_why():
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "parse", "--provider", "telecomx",
                             str(FIXTURES / "cdrstats_doc_example.json")], capture_output=True, text=True)
    assert result.returncode == 1
    assert "telecomx: body: field 'request_params': no request window" in result.stderr
