"""MIXvoip parser: both doc examples (JSON, CSV), billing vs call routing, and hostile bodies."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from pipelines.config import account_from_env
from pipelines.errors import ConfigurationError
from pipelines.model import CallLeg, Quarantined, RawPage
from pipelines.providers.mixvoip import SPEC
from pipelines.providers.mixvoip.billing import BillingItem
from pipelines.providers.mixvoip.parse import parse_pages
from pipelines.providers.mixvoip.settings import MixvoipParseSettings

FIXTURES = Path(__file__).parents[3] / "pipelines" / "providers" / "mixvoip" / "conformance"
LUX = ZoneInfo("Europe/Luxembourg")
PARAMS = {"profile_id": "100201", "start_date": "2021-06-29", "end_date": "2021-06-30", "format": "json"}
CALLOUT_CSV = "CALLOUT,+35220333320,35220333000,\"Luxembourg\",\"2021-06-29,08:30:15\",61,'20,2,7.00,N/A"


def parse(*bodies: bytes | str | list, params=PARAMS, window=None,
          settings: MixvoipParseSettings | None = None):
    pages = []
    for number, body in enumerate(bodies, 1):
        if isinstance(body, list):
            body = orjson.dumps(body)
        elif isinstance(body, str):
            body = body.encode()
        pages.append(RawPage(7, number, body, None, params, window))
    return list(parse_pages(pages, "acct", settings or MixvoipParseSettings()))


def one(body):
    (item,) = parse(body)
    return item


def record(kind="CALLOUT", **data) -> dict:
    base = {"source": "+35220333320", "destination": "35220333000", "destination_name": "Luxembourg",
            "call_start": "2021-06-29 08:24:31", "duration": "61", "pbxextension": "20", "quantity": 2,
            "price": "7.00", "invoice": "N/A"}
    base.update(data)
    return {"type": kind, "data": {k: v for k, v in base.items() if v is not ...}}


def at(*args) -> datetime:
    return datetime(*args, tzinfo=LUX).astimezone(UTC)


def test_json_doc_example_maps_every_field():
    callin, callout = parse((FIXTURES / "getcalls_doc_example.json").read_bytes())
    key = callout.leg_key
    assert callout == CallLeg(
        provider="mixvoip", account="acct", customer="100201", leg_key=key, call_key=key,
        started_at=datetime(2021, 6, 29, 6, 24, 31, tzinfo=UTC), answered_at=None,
        ended_at=datetime(2021, 6, 29, 6, 25, 32, tzinfo=UTC), duration_s=61, billable_s=None,
        direction="outbound", caller_number="+35220333320", called_number="+35220333000", service_number=None,
        call_type="CALLOUT", outcome="answered", hangup_cause=None, cost_eur=Decimal("0.14"),
        source_network=None, extension="20", linked_leg_key=None,
        attributes='{"profile_id":"100201","destination_name":"Luxembourg","quantity":"2","price":"7.00",'
                   '"invoice":"N/A","invoiced":false}',
        raw_response_id=7)
    assert key.endswith(".0") and len(key) == 34
    assert (callin.direction, callin.call_type, callin.outcome) == ("inbound", "CALLIN", "unknown")
    # the raw line break read as a space
    assert callin.started_at == datetime(2021, 6, 29, 6, 13, 50, tzinfo=UTC)
    assert (callin.caller_number, callin.called_number, callin.service_number) == \
        ("+35220333000", "+35220333320", "+35220333320")
    assert (callin.duration_s, callin.ended_at, callin.extension, callin.cost_eur) == \
        (0, callin.started_at, None, Decimal("0"))
    assert "destination_name" not in orjson.loads(callin.attributes)


def test_csv_doc_example_nine_and_ten_columns():
    callout, callin = parse((FIXTURES / "getcalls_doc_example.csv").read_bytes())
    assert (callout.call_type, callout.started_at, callout.duration_s, callout.extension) == \
        ("CALLOUT", at(2021, 6, 29, 8, 30, 15), 61, "20")  # comma between date and time, '20
    assert orjson.loads(callout.attributes)["destination_name"] == "Luxembourg"
    assert (callout.caller_number, callout.called_number, callout.cost_eur) == \
        ("+35220333320", "+35220333000", Decimal("0.14"))
    assert (callin.call_type, callin.started_at, callin.duration_s, callin.extension) == \
        ("CALLIN", at(2021, 6, 29, 10, 40, 0), 0, None)
    assert orjson.loads(callin.attributes) == {"profile_id": "100201", "quantity": "0", "price": "0.00",
                                               "invoice": "N/A", "invoiced": False}


def test_the_pages_profile_is_the_customer_of_its_legs_and_billing_items():
    body = [record(), record(kind="SMS", source="reseller1", destination="SMS")]
    for profile in ("100201", "100202"):
        leg, item = parse(body, params={**PARAMS, "profile_id": profile})
        assert (type(leg), leg.customer, type(item), item.customer, item.profile_id) == \
            (CallLeg, profile, BillingItem, profile, profile)
    # the same record under two profiles is two legs: the profile is part of the key
    first, second = (parse(body, params={**PARAMS, "profile_id": p})[0] for p in ("100201", "100202"))
    assert first.leg_key != second.leg_key
    # a body without its request (a file) has no profile, hence no customer
    assert [i.customer for i in parse(body, params=None)] == [None, None]


def test_same_record_as_json_and_csv_gets_the_same_key():
    (from_csv,) = parse(CALLOUT_CSV)
    (from_json,) = parse([record(call_start="2021-06-29 08:30:15")])
    assert from_csv == from_json


@pytest.mark.parametrize("line, check", [
    ("CALLOUT,+35220333320,35220333000,Luxembourg,2021-06-29,08:30:15,61,'20,2,7.00,N/A",
     lambda leg: leg.started_at == at(2021, 6, 29, 8, 30, 15)),                 # unquoted date,time
    ("CALLOUT,'+35220333320,35220333000,\"Luxembourg\",\"2021-06-29 08:30:15\",61,'20,2,7.00,N/A",
     lambda leg: leg.caller_number == "+35220333320"),                          # Excel prefix on a number
    (("CALLOUT,+35220333320,35220333000,\"Luxembourg\",\"2021-06-29 08:30:15\",\"2021-06-29 08:31:30\","
      "61,'20,2,7.00,N/A"), lambda leg: leg.ended_at == at(2021, 6, 29, 8, 31, 30)),  # a call_end column
    ("CALLOUT,+35220333320,35220333000,\"Luxembourg\",\"2021-06-29\n08:30:15\",61,'20,2,7.00,N/A",
     lambda leg: leg.started_at == at(2021, 6, 29, 8, 30, 15)),                 # line break in quotes
    ("callout,+35220333320,35220333000,\"\",\"2021-06-29T08:30:15\",\"61\",,\"2\",\"7,00\",\"N/A\"",
     lambda leg: (leg.call_type, leg.extension, leg.cost_eur) == ("CALLOUT", None, Decimal("0.14"))),
    ("CALLIN,+35220333000,35220333320,\"2021-06-29 10:40\",0,,0,0.00,4711",
     lambda leg: orjson.loads(leg.attributes)["invoiced"] is True),
])
def test_csv_variants_parse(line, check):
    item = one(line)
    assert type(item) is CallLeg, item
    assert check(item)


@pytest.mark.parametrize("line, field, reason", [
    ("CALLIN,+35220333000,35220333320,\"2021-06-29 10:40:00\",0,0,0.00,N/A", None,
     "expected 9 or 10 columns, got 8"),
    ("CALLOUT,+352203,35220,Luxembourg, mobile,\"2021-06-29 08:30:15\",61,'20,2,7.00,N/A",
     "destination_name", "5 columns before call_start"),
    ("CALLOUT,+352203,35220,\"Luxembourg\",\"2021-06-29 08:30:15\",61,\"20,2,7.00,N/A", None, "unbalanced"),
    ("CALLIN,+35220333000,35220333320,\"2021-13-45 10:40:00\",0,,0,0.00,N/A", "call_start",
     "not a timestamp"),
    ("CALLIN,+35220333000,35220333320,\"0000-00-00 00:00:00\",0,,0,0.00,N/A", "call_start",
     "not a timestamp"),
    ("CALLIN,+35220333000,35220333320,yesterday,0,,0,0.00,N/A,x", "call_start", "no date-time column"),
    ("CALLIN,+35220333000,35220333320,\"2021-06-29 10:40:00\",-3,,0,0.00,N/A", "duration", "negative"),
    ("CALLIN,+35220333000,35220333320,\"2021-06-29 10:40:00\",0,,0,abc,N/A", "price", "not a number"),
    ("CALLIN,+35220333000,35220333320,\"2021-06-29 10:40:00\",0,,0,0.00", None, "expected 9 or 10 columns"),
    (",+35220333000,35220333320,\"2021-06-29 10:40:00\",0,,0,0.00,N/A", "type", "missing"),
])
def test_bad_csv_rows_are_quarantined_with_their_reason(line, field, reason):
    item = one(line)
    assert type(item) is Quarantined, item
    assert (item.provider, item.field, item.record_index, item.raw_response_id) == ("mixvoip", field, 0, 7)
    assert reason in item.reason
    assert item.record == line


def test_every_csv_row_parses_or_is_quarantined_and_one_bad_quote_does_not_swallow_the_rest():
    body = "\ufeff" + "\r\n".join([
        CALLOUT_CSV,
        "CALLOUT,+352203,35220,\"Luxembourg\",\"2021-06-29 08:30:15\",61,\"20,2,7.00,N/A",
        "",
        "CALLIN,+35220333000,35220333320,\"2021-06-29 10:40:00\",0,,0,0.00,N/A",
        "garbage",
    ]) + "\r\n"
    items = parse(body)
    assert [type(i).__name__ for i in items] == ["CallLeg", "Quarantined", "CallLeg", "Quarantined"]
    assert [i.record_index for i in items if type(i) is Quarantined] == [1, 3]


def test_latin1_csv_is_read():
    line = "CALLOUT,+35220333320,262262123456,\"Réunion\",\"2021-06-29 08:30:15\",61,'20,2,7.00,N/A"
    (leg,) = parse(line.encode("cp1252"))
    assert orjson.loads(leg.attributes)["destination_name"] == "Réunion"


@pytest.mark.parametrize("change, check", [
    ({"duration": 61, "quantity": "2", "price": 7},
     lambda leg: (leg.duration_s, leg.cost_eur) == (61, Decimal("0.14"))),
    ({"destination_name": ...}, lambda leg: "destination_name" not in orjson.loads(leg.attributes)),
    ({"destination_name": None}, lambda leg: "destination_name" not in orjson.loads(leg.attributes)),
    ({"call_end": "2021-06-29 08:26:00"}, lambda leg: leg.ended_at == at(2021, 6, 29, 8, 26)),
    ({"call_end": "2021-06-29 08:26:00", "duration": ...}, lambda leg: leg.duration_s == 89),
    ({"duration": ..., "pbxextension": ...},
     lambda leg: (leg.ended_at, leg.duration_s, leg.extension) == (None, None, None)),
    ({"call_start": "2021-06-29T06:24:31Z"},
     lambda leg: leg.started_at == datetime(2021, 6, 29, 6, 24, 31, tzinfo=UTC)),
    ({"call_start": "2021-01-29 08:24:31"},
     lambda leg: leg.started_at == datetime(2021, 1, 29, 7, 24, 31, tzinfo=UTC)),
    ({"pbxextension": 20, "source": 35220333320},
     lambda leg: (leg.extension, leg.caller_number) == ("20", "+35220333320")),
    ({"destination": "112"}, lambda leg: leg.called_number == "112"),
    ({"carrier": "POST", "invoice": "INV-1"},
     lambda leg: (orjson.loads(leg.attributes)["carrier"] == "POST"
                  and orjson.loads(leg.attributes)["invoiced"])),
])
def test_json_field_variants(change, check):
    item = one([record(**change)])
    assert type(item) is CallLeg, item
    assert check(item)


@pytest.mark.parametrize("raw, field, reason", [
    ("not an object", None, "expected an object"),
    ({"type": "CALLOUT"}, "data", "missing"),
    ({"type": "CALLOUT", "data": [1]}, "data", "expected an object"),
    (record(kind=None), "type", "missing"),
    (record(kind=5), "type", None),
    (record(call_start=None), "call_start", "missing"),
    (record(call_start=1624947871), "call_start", "expected a timestamp string"),
    (record(call_end="2021-06-29 08:00:00"), "call_end", "before call_start"),
    (record(duration="1m"), "duration", "not a number"),
    (record(quantity=True), "quantity", "expected a number"),
    (record(source=["+352"]), "source", "expected text"),
])
def test_bad_json_records_are_quarantined_with_the_field(raw, field, reason):
    items = parse([record(), raw])
    assert type(items[0]) is CallLeg
    item = items[1]
    assert type(item) is Quarantined and (item.field, item.record_index) == (field, 1)
    assert reason is None or reason in item.reason


@pytest.mark.parametrize("body, reason", [
    (b'[{"type":"CALLIN","data":{', "not JSON"),
    (b"<html><body>502 Bad Gateway</body></html>", "HTML"),
    (b'{"return":{"code":401,"message":"Authentication failed"}}', "error envelope: code 401"),
    (b'{"calls": []}', "expected an array"),
    (b"{}", "empty JSON object, not a getcalls answer"),
    (b'{"return":{"code":200,"message":"OK","data":[]}}', "/invoices/getBillingData answer"),
])
def test_unreadable_bodies_are_quarantined_whole(body, reason):
    (item,) = parse(body)
    assert type(item) is Quarantined and item.record_index == -1 and reason in item.reason


def test_empty_bodies_and_php_objects_with_digit_keys():
    assert parse(b"[]") == parse(b"") == parse(b"\n") == []
    legs = parse(orjson.dumps({"0": record(), "2": record(kind="CALLIN")}))
    assert [leg.call_type for leg in legs] == ["CALLOUT", "CALLIN"]


@pytest.mark.parametrize("kind", ["PAY", "SETUP", "SERVICE", "SMS", "FAX", "HARDWARE", "DEV", "TRAVEL",
                                  "DELIVERY", "DOCUMENTATION", "MDATA", "MSMS"])
def test_billing_types_go_to_the_billing_fact(kind):
    item = one([record(kind=kind, source="reseller1", destination="Cloud PBX seat",
                       destination_name="Seat licence", call_start="2021-06-01 00:00:00",
                       call_end="2021-06-01 00:00:00", duration=..., pbxextension=..., quantity=4,
                       price="1500.00", invoice="INV-2021-06")])
    assert item == BillingItem(
        provider="mixvoip", account="acct", customer="100201", item_key=item.item_key, profile_id="100201",
        item_type=kind,
        known_type=True, billed_at=at(2021, 6, 1), billed_until=at(2021, 6, 1), username="reseller1",
        product="Cloud PBX seat", description="Seat licence", quantity=Decimal(4), price=Decimal("1500.00"),
        cost_eur=Decimal("60"), invoice="INV-2021-06", duration_s=None, extension=None, attributes="{}",
        raw_response_id=7)


def test_calls_unknown_types_and_configured_call_types():
    mobile, unknown = parse([record(kind="MCALL"), record(kind="VIDEO", source="reseller1")])
    assert (type(mobile), mobile.direction, mobile.source_network) == (CallLeg, "unknown", "mobile")
    assert (type(unknown), unknown.item_type, unknown.known_type) == (BillingItem, "VIDEO", False)
    extra = MixvoipParseSettings(extra_call_types=("video", "CALLFWD"))
    (leg,) = parse([record(kind="VIDEO")], settings=extra)
    assert (type(leg), leg.direction) == (CallLeg, "unknown")


@pytest.mark.parametrize("meaning, cost", [("cents_per_quantity", "0.14"), ("cents_total", "0.07"),
                                           ("euros_per_quantity", "14"), ("euros_total", "7")])
def test_price_meaning_is_configurable_and_the_raw_price_kept(meaning, cost):
    (leg,) = parse([record()], settings=MixvoipParseSettings(price_meaning=meaning))
    assert leg.cost_eur == Decimal(cost)
    assert orjson.loads(leg.attributes)["price"] == "7.00"


def test_timezone_is_configurable():
    (leg,) = parse([record()], settings=MixvoipParseSettings(timezone="UTC"))
    assert leg.started_at == datetime(2021, 6, 29, 8, 24, 31, tzinfo=UTC)


def test_parse_settings_come_from_the_environment():
    account = account_from_env(SPEC, {"MIXVOIP_EXTRA_CALL_TYPES": "video, CALLFWD", "MIXVOIP_TIMEZONE": "UTC",
                                      "MIXVOIP_PRICE_MEANING": "Euros_Total"})
    assert account.settings.parse_settings() == MixvoipParseSettings(
        timezone="UTC", price_meaning="euros_total", extra_call_types=("video", "CALLFWD"))
    pages = [RawPage(7, 1, orjson.dumps([record(), record(kind="VIDEO")]), None, PARAMS, None)]
    leg, video = account.parse(pages, "acct")
    assert (leg.started_at, leg.cost_eur) == (datetime(2021, 6, 29, 8, 24, 31, tzinfo=UTC), Decimal(7))
    assert type(video) is CallLeg
    for variable, value in (("MIXVOIP_PRICE_MEANING", "per_minute"), ("MIXVOIP_TIMEZONE", "Mars/Olympus")):
        with pytest.raises(ConfigurationError, match=variable):
            account_from_env(SPEC, {variable: value})


def test_identical_records_get_ordinals_and_overlapping_pages_the_same_keys():
    body = [record(), record(), record(kind="CALLIN")]
    first, second, callin = parse(body)
    assert first.leg_key[:-2] == second.leg_key[:-2]
    assert (first.leg_key[-2:], second.leg_key[-2:]) == (".0", ".1")
    # the same day fetched twice in one window (chunks sharing a date): the same keys again
    again = parse(body, body)
    assert [leg.leg_key for leg in again] == [first.leg_key, second.leg_key, callin.leg_key] * 2
    # another profile: other keys
    other = parse(body, params={**PARAMS, "profile_id": "100202"})
    assert not {leg.leg_key for leg in other} & {first.leg_key, second.leg_key, callin.leg_key}
    assert orjson.loads(other[0].attributes)["profile_id"] == "100202"


def test_a_page_yields_only_its_window():
    window = (datetime(2021, 6, 29, tzinfo=UTC), datetime(2021, 6, 30, tzinfo=UTC))
    body = [record(call_start="2021-06-29 01:59:59"), record(call_start="2021-06-29 02:00:00"),
            record(call_start="2021-06-30 01:59:59"), record(call_start="2021-06-30 02:00:00"),
            record(call_start="garbage")]
    items = parse(body, window=window)
    assert [type(i).__name__ for i in items] == ["CallLeg", "CallLeg", "Quarantined"]
    assert [i.started_at for i in items[:2]] == [window[0], window[1] - timedelta(seconds=1)]


def test_cli_parse_prints_legs_and_billing_items(tmp_path):
    body = tmp_path / "page.json"
    body.write_bytes(orjson.dumps([record(), record(kind="SMS", source="reseller1", destination="SMS")]))
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "parse", "--provider", "mixvoip",
                             "--params", '{"profile_id": "100201"}', str(body)],
                            capture_output=True, check=True)
    leg, item = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert (leg["call_type"], leg["cost_eur"], leg["attributes"]["profile_id"]) == \
        ("CALLOUT", "0.14", "100201")
    assert (item["item_type"], item["username"], item["known_type"], item["profile_id"]) == \
        ("SMS", "reseller1", True, "100201")


def test_cli_parse_reports_quarantined_csv_rows():
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "parse", "--provider", "mixvoip", "-"],
                            input=CALLOUT_CSV.encode() + b"\nCALLIN,1,2\n", capture_output=True)
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 1
    assert b"mixvoip: record 1: expected 9 or 10 columns, got 3" in result.stderr
