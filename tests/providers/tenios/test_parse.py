"""TENIOS parser: the documented fields, and bodies a real API or a broken proxy might send."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from pipelines.model import CallLeg, Quarantined, RawPage
from pipelines.providers.tenios.parse import _parse_page_fast, parse_pages
from pipelines.providers.tenios.simulator import TeniosData, day_legs

FIXTURES = Path(__file__).parents[3] / "pipelines" / "providers" / "tenios" / "conformance"


def parse(body: bytes | dict, raw_id: int = 7):
    if isinstance(body, dict):
        body = orjson.dumps(body)
    return list(parse_pages([RawPage(raw_id, 1, body, "application/json")], "acct"))


def doc_example() -> dict:
    return orjson.loads((FIXTURES / "retrieve_doc_example.json").read_bytes())


def one(record: dict):
    return parse({"items": [record], "total_items": 1, "page": 1, "page_size": 1})[0]


def test_doc_example_maps_every_field():
    inbound, forwarded, _unanswered = parse(doc_example())
    assert inbound == CallLeg(
        provider="tenios", account="acct", customer=None, leg_key="5d3e1d0c-4b1a-4f0e-9f57-0c5c2a1d7a01",
        call_key="5d3e1d0c-4b1a-4f0e-9f57-0c5c2a1d7a01",
        started_at=datetime(2018, 3, 20, 9, 15, 2, tzinfo=UTC),
        answered_at=datetime(2018, 3, 20, 9, 15, 4, tzinfo=UTC),
        ended_at=datetime(2018, 3, 20, 9, 18, 34, tzinfo=UTC),
        duration_s=212, billable_s=Decimal("210"), direction="inbound",
        caller_number="+4915112345678", called_number="+4930901820", service_number="+4930901820",
        call_type="INBOUND", outcome="answered", hangup_cause="NORMAL_CLEARING", cost_eur=Decimal("0.0"),
        source_network="MOBILE", extension=None, linked_leg_key="8a1f0b9e-2c3d-4e5f-8a9b-1c2d3e4f5a02",
        attributes='{"prepaid":false,"bleg_uuid":"8a1f0b9e-2c3d-4e5f-8a9b-1c2d3e4f5a02"}', raw_response_id=7,
    )
    assert forwarded.call_key == inbound.leg_key
    assert forwarded.direction == "outbound"
    assert forwarded.service_number is None
    assert forwarded.cost_eur == Decimal("0.0123")
    assert orjson.loads(forwarded.attributes)["callerid_name"] == "Kunde 123"


def test_colon_milliseconds_national_numbers_and_unanswered_leg():
    *_, leg = parse(doc_example())
    assert leg.started_at == datetime(2018, 3, 20, 10, 0, 0, tzinfo=UTC)
    assert leg.answered_at is None
    assert leg.outcome == "no_answer"
    assert leg.caller_number == "+49301234567"
    assert leg.called_number == "+493098765432"
    assert orjson.loads(leg.attributes) == {"prepaid": True, "routing_status": "no route",
                                            "main_leg_uuid": "c0ffee00-0000-4000-8000-000000000004"}


def test_offsets_and_naive_stamps_become_utc():
    base = doc_example()["items"][0]
    utc = datetime(2018, 3, 20, 9, 15, 2, tzinfo=UTC)
    assert one({**base, "start_stamp": "2018-03-20T10:15:02+01:00"}).started_at == utc
    assert one({**base, "start_stamp": "2018-03-20 09:15:02"}).started_at == utc


@pytest.mark.parametrize("field", ["bleg_uuid", "main_leg_uuid", "routing_status", "billing_status",
                                   "callerid_name", "answer_stamp", "end_stamp", "cost", "billusec",
                                   "hangup_cause", "source_type", "callerid_number"])
def test_nullable_and_missing_fields_still_load(field):
    base = doc_example()["items"][0]
    assert type(one({**base, field: None})) is CallLeg
    assert type(one({k: v for k, v in base.items() if k != field})) is CallLeg


def test_unknown_call_type_and_cause_are_kept_as_data():
    base = doc_example()["items"][2]
    leg = one({**base, "call_type": "VIDEOINBOUND", "hangup_cause": "MEDIA_TIMEOUT",
               "source_type": "SATELLITE"})
    assert (leg.call_type, leg.direction) == ("VIDEOINBOUND", "unknown")
    assert (leg.hangup_cause, leg.outcome) == ("MEDIA_TIMEOUT", "failed")
    assert leg.source_network == "SATELLITE"


def test_numbers_as_strings_are_read():
    base = doc_example()["items"][0]
    leg = one({**base, "duration": "212", "cost": "0.05", "billusec": "1500000"})
    assert (leg.duration_s, leg.cost_eur, leg.billable_s) == (212, Decimal("0.05"), Decimal("1.5"))


@pytest.mark.parametrize("change, field", [
    ({"uuid": None}, "uuid"),
    ({"uuid": 12345}, "uuid"),
    ({"uuid": "  "}, "uuid"),
    ({"start_stamp": None}, "start_stamp"),
    ({"start_stamp": "yesterday"}, "start_stamp"),
    ({"start_stamp": 1521537302}, "start_stamp"),
    ({"duration": -5}, "duration"),
    ({"duration": "abc"}, "duration"),
    ({"duration": True}, "duration"),
    ({"cost": {"eur": 1}}, "cost"),
    ({"cost": "NaN"}, "cost"),
    ({"prepaid": "yes"}, "prepaid"),
    ({"callerid_number": ["+49"]}, "callerid_number"),
])
def test_wrong_types_are_quarantined_with_the_field(change, field):
    base = doc_example()["items"][0]
    item = one({**base, **change})
    assert type(item) is Quarantined
    assert (item.provider, item.field, item.record_index, item.raw_response_id) == ("tenios", field, 0, 7)
    assert item.reason


def test_bad_record_does_not_stop_the_page():
    document = doc_example()
    document["items"].insert(1, "not an object")
    items = parse(document)
    assert [type(i).__name__ for i in items] == ["CallLeg", "Quarantined", "CallLeg", "CallLeg"]
    assert items[1].record_index == 1


@pytest.mark.parametrize("body, reason", [
    (b'{"items": [{"uuid": "a"', "not JSON"),
    (b"<html>502 Bad Gateway</html>", "not JSON"),
    (b"[]", "expected an object"),
    (b'{"items": {"uuid": "a"}}', "expected a list"),
    (b'{"error_code": "INVALID_ACCESS_KEY"}', "error body"),
])
def test_unreadable_bodies_are_quarantined_whole(body, reason):
    (item,) = parse(body)
    assert type(item) is Quarantined and item.record_index == -1 and reason in item.reason


def test_empty_result_is_no_legs():
    assert parse({"items": [], "total_items": 0, "page": 1, "page_size": 0}) == []
    assert parse({"total_items": 0}) == []


def test_cli_parse_writes_json_lines():
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "parse", "--provider", "tenios",
                             str(FIXTURES / "retrieve_doc_example.json")], capture_output=True, check=True)
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [line["leg_key"] for line in lines] == [i["uuid"] for i in doc_example()["items"]]
    assert lines[0]["started_at"] == "2018-03-20T09:15:02+00:00"
    assert lines[1]["cost_eur"] == "0.0123"


def test_cli_parse_names_provider_and_field_on_bad_input(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps({"items": [{"uuid": "x", "start_stamp": "soon"}], "total_items": 1}))
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "parse", "--provider", "tenios",
                             str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "tenios: record 0: field 'start_stamp': not a timestamp" in result.stderr


def simulated_pages(day: str = "2026-03-29", legs: int = 1500):
    data = TeniosData(seed=3, legs_per_day=legs)
    records = [r for _, _, r in day_legs(data, "acct", date.fromisoformat(day))]
    return [RawPage(i + 1, i + 1,
                    orjson.dumps({"items": records[i * 500:(i + 1) * 500], "total_items": len(records)}),
                    "application/json") for i in range((len(records) + 499) // 500)]


def awkward_variants() -> list[dict]:
    """Well-typed records that still exercise every branch of the fast path."""
    base = doc_example()["items"][0]
    return [
        {**base, "uuid": "  padded-uuid  ", "call_type": " INBOUND ", "hangup_cause": ""},
        {**base, "uuid": "offset", "start_stamp": "2018-03-20T10:15:02+01:00", "answer_stamp": None},
        {**base, "uuid": "naive", "start_stamp": "2018-03-20 09:15:02", "end_stamp": None},
        {**base, "uuid": "float-money", "cost": 0.1 + 0.2, "billusec": 1234567.5},
        {**base, "uuid": "big-int-money", "cost": 12345678, "billusec": 99_999_999_000_000},
        {**base, "uuid": "unknown-type", "call_type": "VIDEOINBOUND", "source_type": "SATELLITE"},
        {**base, "uuid": "national", "callerid_number": "030 1234567", "destination_number": "0049301234"},
        {**base, "uuid": "extra-field", "something_new": [1, 2, 3]},
    ]


def test_fast_and_field_by_field_paths_agree():
    pages = [*simulated_pages(), RawPage(90, 1, orjson.dumps(doc_example()), None),
             RawPage(91, 1, orjson.dumps({"items": awkward_variants()}), None)]
    fast = list(parse_pages(pages, "acct"))
    slow = list(parse_pages(pages, "acct", fast=False))
    assert len(fast) > 1500 and all(type(item) is CallLeg for item in fast)
    assert fast == slow
    assert [type(v) for v in (fast[-4].cost_eur, fast[-4].billable_s)] == [Decimal, Decimal]
    # and the fast path did read them itself, rather than handing every page to the slow one
    assert sum(len(_parse_page_fast(p.body, "acct", p.raw_response_id, UTC)) for p in pages) == len(fast)


@pytest.mark.parametrize("change", [
    {"duration": 2**31}, {"duration": -1}, {"cost": 1e9}, {"start_stamp": "soon"}, {"uuid": " "},
    {"callerid_name": "nul \u0000 inside"}, {"duration": "212"}, {"prepaid": "yes"},
])
def test_pages_the_fast_path_is_unsure_of_get_the_field_by_field_treatment(change):
    items = [doc_example()["items"][1], {**doc_example()["items"][0], **change}]
    page = [RawPage(5, 1, orjson.dumps({"items": items}), None)]
    assert list(parse_pages(page, "acct")) == list(parse_pages(page, "acct", fast=False))
