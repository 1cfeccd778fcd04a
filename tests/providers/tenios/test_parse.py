"""TENIOS parser: the documented fields, and bodies a real API or a broken proxy might send."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from pipelines.model import CallLeg, FetchedPage, ParseNote, Quarantined, RawPage
from pipelines.providers.tenios.parse import _parse_page_fast, parse_pages
from pipelines.providers.tenios.readings import observe_readings
from pipelines.providers.tenios.settings import TeniosParseSettings
from pipelines.providers.tenios.simulator import STAMP_FORMS, TeniosData, day_legs, served_stamp

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


BERLIN_WINTER = [  # 09:15:02 UTC on 20 March 2018 (CET, +01:00), in every form a stamp may take
    ("2018-03-20T09:15:02Z", False), ("2018-03-20T09:15:02.000Z", False), ("2018-03-20T09:15:02:000Z", False),
    ("2018-03-20T10:15:02+01:00", False), ("2018-03-20T10:15:02.000+01:00", False),
    ("2018-03-20 10:15:02", True), ("2018-03-20T10:15:02", True), ("2018-03-20 10:15:02.000", True),
    ("2018-03-20T10:15:02.000", True), ("2018-03-20 10:15:02.000000", True),
]


@pytest.mark.parametrize("stamp, naive", BERLIN_WINTER, ids=[s for s, _ in BERLIN_WINTER])
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "field-by-field"])
def test_every_stamp_form_lands_at_the_same_instant(stamp, naive, fast):
    base = doc_example()["items"][0]
    body = orjson.dumps({"items": [{**base, "start_stamp": stamp}], "total_items": 1})
    leg, *notes = parse_pages([RawPage(7, 1, body, None)], "acct", fast=fast)
    assert leg.started_at == datetime(2018, 3, 20, 9, 15, 2, tzinfo=UTC)
    assert orjson.loads(leg.attributes).get("stamp_without_offset") is (True if naive else None)
    assert notes == ([ParseNote("legs_stamp_without_offset", 1, "read in Europe/Berlin")] if naive else [])


def test_a_stamp_without_offset_is_read_in_the_accounts_zone():
    base = doc_example()["items"][0]
    body = orjson.dumps({"items": [{**base, "start_stamp": "2018-07-20 09:15:02",
                                    "answer_stamp": "2018-07-20 09:15:04", "end_stamp": None}]})
    summer, *_ = parse_pages([RawPage(1, 1, body, None)], "acct")
    assert summer.started_at == datetime(2018, 7, 20, 7, 15, 2, tzinfo=UTC)  # CEST, +02:00
    assert summer.answered_at == datetime(2018, 7, 20, 7, 15, 4, tzinfo=UTC)
    utc, *_ = parse_pages([RawPage(1, 1, body, None)], "acct", TeniosParseSettings("UTC"))
    assert utc.started_at == datetime(2018, 7, 20, 9, 15, 2, tzinfo=UTC)
    lisbon = list(parse_pages([RawPage(1, 1, body, None)], "acct", TeniosParseSettings("Europe/Lisbon")))
    assert lisbon[0].started_at == datetime(2018, 7, 20, 8, 15, 2, tzinfo=UTC)
    assert lisbon[1] == ParseNote("legs_stamp_without_offset", 1, "read in Europe/Lisbon")


def test_one_note_per_page_counts_the_legs_whose_stamps_had_no_offset():
    base = doc_example()["items"][0]
    naive = [{**base, "uuid": f"n{i}", "start_stamp": "2018-03-20 10:15:02"} for i in range(3)]
    mixed = [*naive, {**base, "uuid": "z"},
             {**base, "uuid": "answer-only", "answer_stamp": "2018-03-20 10:15:04"},
             {**base, "uuid": "bad", "start_stamp": "2018-03-20 10:15:02", "duration": -1}]
    pages = [RawPage(1, 1, orjson.dumps({"items": mixed}), None),
             RawPage(2, 2, orjson.dumps({"items": naive[:1]}), None),
             RawPage(3, 3, orjson.dumps(doc_example()), None)]
    items = list(parse_pages(pages, "acct"))
    notes = [item for item in items if type(item) is ParseNote]
    # a leg counts once whichever of its stamps had no offset; a quarantined record not at all
    assert notes == [ParseNote("legs_stamp_without_offset", 4, "read in Europe/Berlin"),
                     ParseNote("legs_stamp_without_offset", 1, "read in Europe/Berlin")]
    assert items.index(notes[0]) == len(mixed)  # after its page's records
    assert sum(type(item) is Quarantined for item in items) == 1


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "field-by-field"])
def test_summer_time_ends_the_repeated_hour_is_read_as_its_first_pass(fast):
    base = doc_example()["items"][0]
    # 25 October 2026: 02:00-02:59 Berlin happens twice, at 00:00-00:59 and 01:00-01:59 UTC
    body = orjson.dumps({"items": [{**base, "start_stamp": "2026-10-25 02:30:00", "answer_stamp": None,
                                    "end_stamp": "2026-10-25 03:10:00"}]})
    leg, *notes = parse_pages([RawPage(1, 1, body, None)], "acct", fast=fast)
    assert leg.started_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert leg.ended_at == datetime(2026, 10, 25, 2, 10, tzinfo=UTC)
    assert orjson.loads(leg.attributes).items() >= {"stamp_without_offset": True,
                                                    "stamp_dst_ambiguous": True}.items()
    assert [note.name for note in notes] == ["legs_stamp_without_offset", "legs_stamp_dst_ambiguous"]
    assert notes[1].total == 1 and "first pass" in notes[1].detail


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "field-by-field"])
def test_a_time_the_spring_change_skips_is_quarantined_naming_the_zone(fast):
    base = doc_example()["items"][0]
    body = orjson.dumps({"items": [{**base, "start_stamp": "2026-03-29 02:30:00"}]})
    (item,) = parse_pages([RawPage(1, 1, body, None)], "acct", fast=fast)
    assert type(item) is Quarantined and item.field == "start_stamp"
    assert "does not exist in Europe/Berlin" in item.reason and "stamp_time_zone" in item.reason


def test_a_stamp_with_an_offset_is_never_moved_by_the_zone_setting():
    base = doc_example()["items"][0]
    body = orjson.dumps({"items": [{**base, "start_stamp": "2026-03-29T02:30:00+02:00"}]})
    for zone in ("Europe/Berlin", "UTC", "America/New_York"):
        (leg,) = parse_pages([RawPage(1, 1, body, None)], "acct", TeniosParseSettings(zone))
        assert leg.started_at == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)


WINDOW = (datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 6, tzinfo=UTC))


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "field-by-field"])
def test_legs_outside_the_pages_window_are_left_to_their_own_day_not_quarantined(fast):
    base = doc_example()["items"][0]
    items = [{**base, "uuid": "day-before", "start_stamp": "2026-10-04T23:59:59.500Z"},
             {**base, "uuid": "day-before-naive", "start_stamp": "2026-10-05 01:59:59"},  # 23:59:59 UTC
             {**base, "uuid": "midnight", "start_stamp": "2026-10-05T00:00:00.000Z"},
             {**base, "uuid": "last", "start_stamp": "2026-10-05T23:59:59.999Z"},
             {**base, "uuid": "next-day", "start_stamp": "2026-10-06T00:00:00.000Z"},
             # unreadable in another field, but not this window's: its own day quarantines it
             {**base, "uuid": "day-before-bad", "start_stamp": "2026-10-04T23:59:59.900Z", "duration": -1}]
    page = RawPage(1, 1, orjson.dumps({"items": items, "total_items": len(items)}), None, {}, WINDOW)
    parsed = list(parse_pages([page], "acct", fast=fast))
    assert [leg.leg_key for leg in parsed] == ["midnight", "last"]  # no note: the naive leg is not loaded
    # without a window (a file), every leg is kept and the bad one quarantined
    kept = list(parse_pages([page._replace(window=None)], "acct", fast=fast))
    assert sum(type(item) is CallLeg for item in kept) == 5
    assert [item.record_index for item in kept if type(item) is Quarantined] == [5]


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
    (b'{"error_code": "BAD_CREDENTIALS", "error_message": "no", "fields": [], "success": false}',
     "error body: BAD_CREDENTIALS"),
    (b'{"success": false, "items": []}', "error body"),
    (b"{}", "not a /cdrs/retrieve answer"),
    (b'{"total_items": 51}', "not a /cdrs/retrieve answer"),  # the /cdrs/count answer
    (b'{"total_items": 0}', "not a /cdrs/retrieve answer"),
    (b'{"verification_id": "3f9c1e2a"}', "not a /cdrs/retrieve answer"),
])
def test_unreadable_bodies_are_quarantined_whole(body, reason):
    (item,) = parse(body)
    assert type(item) is Quarantined and item.record_index == -1 and reason in item.reason


def test_empty_result_is_no_legs():
    assert parse({"items": [], "total_items": 0, "page": 1, "page_size": 0}) == []
    assert parse({"items": []}) == []


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


def served_in(form: str, page: RawPage) -> RawPage:
    """The simulator's page with its stamps in `form` (as /_sim/stamp_form would serve them)."""
    document = orjson.loads(page.body)
    for record in document["items"]:
        record.update({name: served_stamp(record[name], form)
                       for name in ("start_stamp", "answer_stamp", "end_stamp") if record[name]})
    return page._replace(body=orjson.dumps(document))


def test_fast_and_field_by_field_paths_agree():
    day = datetime(2026, 3, 29, tzinfo=UTC)  # the day summer time starts
    pages = [*simulated_pages(), RawPage(90, 1, orjson.dumps(doc_example()), None),
             RawPage(91, 1, orjson.dumps({"items": awkward_variants()}), None),
             *(served_in(form, page._replace(window=(day, day + timedelta(days=1))))
               for form in STAMP_FORMS for page in simulated_pages()[:1])]
    fast = list(parse_pages(pages, "acct"))
    slow = list(parse_pages(pages, "acct", fast=False))
    legs = [item for item in fast if type(item) is CallLeg]
    assert len(legs) > 1500 and all(type(item) in (CallLeg, ParseNote) for item in fast)
    assert fast == slow
    assert {note.name for note in fast if type(note) is ParseNote} == {"legs_stamp_without_offset"}
    awkward = [leg for leg in legs if leg.raw_response_id == 91]
    assert [type(v) for v in (awkward[3].cost_eur, awkward[3].billable_s)] == [Decimal, Decimal]
    # and the fast path did read them itself, rather than handing every page to the slow one
    assert sum(len(_parse_page_fast(p.body, "acct", p.raw_response_id, UTC, p.window)) for p in pages) \
        == len(legs)


def test_every_form_the_simulator_serves_lands_on_the_same_instants():
    day = datetime(2026, 3, 29, tzinfo=UTC)
    page = simulated_pages()[0]._replace(window=(day, day + timedelta(days=1)))
    by_form = {form: [item for item in parse_pages([served_in(form, page)], "acct") if type(item) is CallLeg]
               for form in STAMP_FORMS}
    def instants(form: str) -> list[tuple]:
        return [(leg.leg_key, leg.started_at, leg.answered_at, leg.ended_at) for leg in by_form[form]]

    exact = instants("z")
    for form in ("offset", "naive-fraction"):
        assert instants(form) == exact
    for form in ("naive-space", "naive-t"):  # whole seconds: the same instants, cut to the second
        assert [(leg.leg_key, leg.started_at) for leg in by_form[form]] == \
            [(key, started.replace(microsecond=0)) for key, started, _, _ in exact]


@pytest.mark.parametrize("change", [
    {"duration": 2**31}, {"duration": -1}, {"cost": 1e9}, {"start_stamp": "soon"}, {"uuid": " "},
    {"callerid_name": "nul \u0000 inside"}, {"duration": "212"}, {"prepaid": "yes"},
])
def test_pages_the_fast_path_is_unsure_of_get_the_field_by_field_treatment(change):
    items = [doc_example()["items"][1], {**doc_example()["items"][0], **change}]
    page = [RawPage(5, 1, orjson.dumps({"items": items}), None)]
    assert list(parse_pages(page, "acct")) == list(parse_pages(page, "acct", fast=False))


def test_observed_readings_say_whether_stamps_carry_an_offset():
    base = doc_example()["items"][0]
    params = {"start_date_from": "2018-03-19T23:59:59.000Z", "start_date_to": "2018-03-20T23:59:59.999Z",
              "page": 1, "page_size": 500}

    def observed(items: list[dict], **answer) -> dict[str, str]:
        body = orjson.dumps({"items": items, "total_items": len(items), "page": 1, "page_size": 500,
                             **answer})
        return dict(observe_readings(FetchedPage("/cdrs/retrieve", params, 1, 200, "application/json", body,
                                                 len(items))))

    naive = observed([{**base, "start_stamp": "2018-03-20 10:15:02", "answer_stamp": None,
                       "end_stamp": "2018-03-20 10:18:34", "new_field": 1}], page_size=100)
    assert naive["time stamps carry an offset"] == "no: 0 of 2"
    assert naive["time stamp form"] == "YYYY-MM-DD HH:MM:SS (2)"
    assert naive["legs within the requested bounds"].startswith("yes: 1 of 1")
    assert naive["page_size accepted"] == "asked 500, answer says 100, 1 records"
    assert naive["record fields the docs do not name"] == "new_field"
    mixed = observed([base, {**base, "start_stamp": "2018-03-21 10:15:02"}])
    assert mixed["time stamps carry an offset"] == "mixed: 5 of 6"
    assert mixed["legs within the requested bounds"].startswith("no: 1 of 2")
    assert dict(observe_readings(FetchedPage("/cdrs/retrieve", params, 1, 200, None, b"{}", 0))) \
        == {"answer shape": "refused: not a /cdrs/retrieve answer: no `items` (keys: none)"}
