"""Belfabriek parser: the documented fields, both DST transitions, leg keys, and bodies a real API
or a broken proxy might send."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from pipelines.config import account_from_env
from pipelines.errors import ConfigurationError
from pipelines.model import CallLeg, ParseNote, Quarantined, RawPage
from pipelines.providers.belfabriek import SPEC
from pipelines.providers.belfabriek.parse import CHUNK_BYTES, LATIN1_NOTE, parse_pages, summarize
from pipelines.providers.belfabriek.settings import BelfabriekParseSettings

FIXTURES = Path(__file__).parents[3] / "pipelines" / "providers" / "belfabriek" / "conformance"


def parse(*bodies: bytes | str, repeated_hour: str = "earlier", params: dict | None = None) -> list:
    pages = [RawPage(7 + i, i + 1, b.encode() if isinstance(b, str) else b, "text/xml", params)
             for i, b in enumerate(bodies)]
    return list(parse_pages(pages, "acct", BelfabriekParseSettings(dst_repeated_hour=repeated_hour)))


def block(*records: str, servicenumber: str = "318001234567", tag: str = "CALLER_DATA_RECORDS") -> str:
    attribute = f' servicenumber="{servicenumber}"' if servicenumber is not None else ""
    inner = "".join(records) or "<NO_RECORD>No Record</NO_RECORD>"
    return f'<{tag}{attribute} startdate="x" enddate="y">{inner}</{tag}>'


def record(timestamp="02-11-2026 10:15:00", number="0201234567", location="Amsterdam", peak="peak",
           duration="60", extension_id=None, extension_name=None, **extra) -> str:
    fields = {"TIMESTAMP": timestamp, "NUMBER": number, "LOCATION": location, "PEAK": peak,
              "DURATION": duration, "EXTENSION_ID": extension_id, "EXTENSION_NAME": extension_name, **extra}
    return "<RECORD>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items() if v is not None) + "</RECORD>"


def one(**fields):
    (item,) = parse(block(record(**fields)))
    return item


def attributes(leg: CallLeg) -> dict:
    return orjson.loads(leg.attributes)


# --- the documented shape -------------------------------------------------------------------

def test_doc_example_maps_every_field():
    first, second = parse((FIXTURES / "doc_example.xml").read_bytes())
    assert first == CallLeg(
        provider="belfabriek", account="acct", customer=None, leg_key=first.leg_key, call_key=first.leg_key,
        # 22 October 2011 is summer time in Amsterdam: 14:00:20 local is 12:00:20 UTC
        started_at=datetime(2011, 10, 22, 12, 0, 20, tzinfo=UTC), answered_at=None,
        ended_at=datetime(2011, 10, 22, 12, 2, 25, tzinfo=UTC), duration_s=125, billable_s=None,
        direction="unknown", caller_number=None, called_number=None, service_number="+318001234567",
        call_type=None, outcome="unknown", hangup_cause=None, cost_eur=None, source_network="fixed",
        extension="101", linked_leg_key=None,
        attributes='{"number":"+31201234567","location":"Amsterdam","peak":"peak","tariff_period":"peak",'
                   '"extension_name":"Receptie"}',
        raw_response_id=7,
    )
    assert first.leg_key.endswith("-0") and len(first.leg_key) == 34
    assert second.started_at == datetime(2011, 10, 22, 17, 42, 5, tzinfo=UTC)
    assert (second.source_network, second.extension, second.duration_s) == ("mobile", None, 0)
    assert attributes(second) == {"number": "+31612345678", "location": "Mobiel", "peak": "dal",
                                  "tariff_period": "off_peak"}


def test_legs_carry_the_customer_id_the_page_was_requested_for():
    body = block(record(), record(timestamp="02-11-2026 11:00:00"))
    requested = {"customer_id": "100234", "start_timestamp": 1, "end_timestamp": 2}
    assert [leg.customer for leg in parse(body, params=requested)] == ["100234", "100234"]
    as_number = {**requested, "customer_id": 100234}
    assert [leg.customer for leg in parse(body, params=as_number)] == ["100234", "100234"]
    # a body read without its request (a file), or a request without a customer id: none
    assert [leg.customer for leg in parse(body)] == [None, None]
    assert [leg.customer for leg in parse(body, params={**requested, "customer_id": ""})] == [None, None]
    # the customer is not part of the leg key: it is the same leg whoever asked
    assert [leg.leg_key for leg in parse(body, params=requested)] == [leg.leg_key for leg in parse(body)]


def test_no_record_is_an_empty_result_not_an_error():
    assert parse((FIXTURES / "no_record.xml").read_bytes()) == []
    two = block() + block(servicenumber="319001122334")
    assert parse(f"<CALLERS_DATA_RECORDS>{two}</CALLERS_DATA_RECORDS>") == []
    assert summarize((FIXTURES / "no_record.xml").read_bytes()) == (0, None)


@pytest.mark.parametrize("shape", ["wrapped", "side by side", "callers root", "namespaced, lower case"])
def test_one_or_many_blocks_under_either_name(shape):
    a = record(timestamp="02-11-2026 10:00:00")
    b = record(timestamp="02-11-2026 11:00:00", number="0612345678", location="Mobiel")
    blocks = [block(a), block(b, servicenumber="319001122334")]
    body = {
        "wrapped": "<CALLERS_DATA_RECORDS>" + "".join(blocks) + "</CALLERS_DATA_RECORDS>",
        "side by side": '<?xml version="1.0"?>\n' + "\n".join(blocks),
        "callers root": block(a, tag="CALLERS_DATA_RECORDS") + block(b, servicenumber="319001122334",
                                                                      tag="CALLERS_DATA_RECORDS"),
        "namespaced, lower case": '<callers_data_records xmlns="urn:x">'
                                  + "".join(blocks).replace("RECORD>", "record>") + "</callers_data_records>",
    }[shape]
    legs = parse(body)
    assert [(leg.service_number, leg.started_at.hour) for leg in legs] == [("+318001234567", 9),
                                                                           ("+319001122334", 10)]
    assert all(type(leg) is CallLeg for leg in legs)


# --- the element around several blocks (unpublished) ----------------------------------------------

@pytest.mark.parametrize("root", ["STATISTICS", "statistics", "RESPONSE", "CALLERS"])
def test_any_single_root_wrapping_blocks_loads_every_block(root):
    a = record(timestamp="02-11-2026 10:00:00")
    b = record(timestamp="02-11-2026 11:00:00", number="0612345678", location="Mobiel")
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>\n' + block(a) + "\n"
            + block(b, servicenumber="319001122334", tag="CALLERS_DATA_RECORDS")
            + block(servicenumber="318503036000") + f"\n</{root}>\n")
    legs = parse(body)
    assert [(leg.service_number, leg.started_at.hour) for leg in legs] == [("+318001234567", 9),
                                                                           ("+319001122334", 10)]
    assert summarize(body.encode()) == (2, None)


@pytest.mark.parametrize("body", [
    "<STATISTICS><NO_RECORD>No Record</NO_RECORD></STATISTICS>",
    "<NO_RECORD>No Record</NO_RECORD>",
    "<STATISTICS>" + block() + block(servicenumber="319001122334") + "</STATISTICS>",
])
def test_an_explicit_no_record_in_any_wrapper_is_an_empty_result(body):
    assert parse(body) == []
    assert summarize(body.encode()) == (0, None)


def test_an_error_inside_any_wrapper_is_still_an_error():
    body = "<STATISTICS><ERROR>1</ERROR><MESSAGE>Invalid hash and/or user</MESSAGE></STATISTICS>"
    assert summarize(body.encode()).error == ("1", "Invalid hash and/or user")


@pytest.mark.parametrize("body, reason", [
    ("<STATISTICS/>", "holds no data-record block"),
    ('<?xml version="1.0"?><STATISTICS>\n  \n</STATISTICS>', "holds no data-record block"),
    ("<STATISTICS>" + record() + "</STATISTICS>", "it holds <RECORD>"),
    ("<STATISTICS><NUMBERS>" + block(record()) + "</NUMBERS></STATISTICS>", "it holds <NUMBERS>"),
    ("<STATISTICS>" + block(record()) + "<SUMMARY>1</SUMMARY></STATISTICS>", "it holds <SUMMARY>"),
    ("<STATISTICS>" + block(record()) + "</STATISTICS><STATISTICS/>", "not the body's only element"),
    (block(record()) + "<STATISTICS>" + block(record()) + "</STATISTICS>", "not the body's only element"),
    ("<methodResponse><params><param><value><string>x</string></value></param></params></methodResponse>",
     "root element <METHODRESPONSE>"),
])
def test_a_body_with_no_data_record_block_or_an_unexpected_shape_is_refused(body, reason):
    items = parse(body)
    assert [type(i) for i in items][-1:] == [Quarantined]
    assert items[-1].record_index == -1 and reason in items[-1].reason, items[-1].reason
    with pytest.raises(Exception, match="not CALLER_DATA_RECORDS or CALLERS_DATA_RECORDS"):
        summarize(body.encode())


# --- encodings ------------------------------------------------------------------------------------

FRISIAN = "S\u00fadwest-Frysl\u00e2n"


def notes(items: list) -> list[ParseNote]:
    return [i for i in items if type(i) is ParseNote]


@pytest.mark.parametrize("declaration", ['<?xml version="1.0" encoding="ISO-8859-1"?>',
                                         "<?xml version='1.0' encoding='iso-8859-1' standalone='yes'?>\n",
                                         '<?xml version="1.0" encoding="windows-1252"?>'])
def test_a_declared_encoding_is_honoured(declaration):
    body = (declaration + block(record(location=FRISIAN))).encode("latin-1")
    items = parse(body)
    assert attributes(items[0])["location"] == FRISIAN
    assert notes(items) == []  # nothing was assumed


@pytest.mark.parametrize("declaration", ["", '<?xml version="1.0"?>\n'])
def test_an_undeclared_body_that_is_not_utf8_is_read_as_latin1_and_counted(declaration):
    records = (record(location=FRISIAN, extension_name="Verkoop \u00e9\u00e9n"),
               record(timestamp="02-11-2026 11:00:00"))
    body = (declaration + "<STATISTICS>" + block(*records) + "</STATISTICS>").encode("latin-1")
    items = parse(body)
    legs = [i for i in items if type(i) is CallLeg]
    assert len(legs) == 2
    assert attributes(legs[0])["location"] == FRISIAN
    assert attributes(legs[0])["extension_name"] == "Verkoop \u00e9\u00e9n"
    assert notes(items) == [ParseNote(LATIN1_NOTE, 1, "no declared encoding and not valid UTF-8:"
                                                      " read as ISO-8859-1")]
    assert summarize(body) == (2, None)  # the client counts it too


def test_the_note_counts_each_latin1_page_once_and_no_other():
    latin1 = block(record(location=FRISIAN)).encode("latin-1")
    utf8 = block(record(location=FRISIAN, timestamp="02-11-2026 12:00:00")).encode()
    items = parse(latin1, utf8, latin1.replace(b"10:15", b"10:16"))
    assert [type(i).__name__ for i in items] == ["CallLeg", "ParseNote", "CallLeg", "CallLeg", "ParseNote"]
    assert {attributes(i)["location"] for i in items if type(i) is CallLeg} == {FRISIAN}


def test_an_undeclared_utf8_body_stays_utf8_even_across_chunks():
    # the two bytes of the first letter after S straddle a chunk boundary of the validity check
    body = block(record(location=FRISIAN)).encode()
    where = body.index("\u00fa".encode())
    body = body[:where - 30] + b" " * (CHUNK_BYTES - 1 - where) + body[where - 30:]
    assert body[CHUNK_BYTES - 1:CHUNK_BYTES + 1] == "\u00fa".encode()
    items = parse(body)
    assert attributes(items[0])["location"] == FRISIAN and notes(items) == []


@pytest.mark.parametrize("head", ['<?xml version="1.0" encoding="UTF-8"?>', "\ufeff"])
def test_a_body_declaring_utf8_that_is_not_is_refused_whole(head):
    body = head.encode() + block(record(location=FRISIAN)).encode("latin-1")
    (item,) = parse(body)
    assert type(item) is Quarantined and item.record_index == -1
    assert "declares UTF-8, and its bytes are not that" in item.reason


def test_a_latin1_page_refused_before_any_record_is_not_counted_as_decoded():
    html = "<html><body>Onderhoud tot 14:00, excuses voor het ongemak \u00e9</body></html>".encode("latin-1")
    (item,) = parse(html)
    assert type(item) is Quarantined and "root element <HTML>" in item.reason


def test_optional_fields_may_be_missing_or_empty():
    leg = one(number=None, location=None, peak=None)
    assert type(leg) is CallLeg and leg.source_network is None and attributes(leg) == {}
    leg = one(number="", location="", peak="")
    assert type(leg) is CallLeg and attributes(leg) == {}


@pytest.mark.parametrize("location, network", [("Mobiel", "mobile"), ("MOBIEL", "mobile"),
                                               ("Rotterdam", "fixed"), ("Buitenland", "international"),
                                               ("Onbekend", None)])
def test_location_vocabulary(location, network):
    leg = one(location=location)
    assert leg.source_network == network
    assert attributes(leg)["location"] == location


@pytest.mark.parametrize("peak, period", [("peak", "peak"), ("Piek", "peak"), ("dal", "off_peak"),
                                          ("DAL", "off_peak"), ("0", "off_peak"), ("weekend", None)])
def test_peak_and_dal_become_a_tariff_period_kept_as_data(peak, period):
    data = attributes(one(peak=peak))
    assert data["peak"] == peak
    assert data.get("tariff_period") == period


def test_numbers_and_extensions():
    leg = one(number="0031 6 1234 5678", extension_id="204", extension_name="Klantenservice")
    assert attributes(leg)["number"] == "+31612345678"
    assert (leg.extension, attributes(leg)["extension_name"]) == ("204", "Klantenservice")
    assert attributes(one(number="anoniem"))["number"] == "anoniem"  # kept as sent
    assert attributes(one(number="+3220123456"))["number"] == "+3220123456"


def test_direction_and_outcome_are_not_guessed():
    for leg in parse((FIXTURES / "doc_example.xml").read_bytes()):
        assert (leg.direction, leg.outcome) == ("unknown", "unknown")
        assert (leg.caller_number, leg.called_number) == (None, None)


def test_undocumented_fields_are_kept_as_data():
    assert attributes(one(COST="0,12", CALL_TYPE="inkomend"))["cost"] == "0,12"


def test_a_block_without_servicenumber_takes_the_requested_one():
    body = block(record(), servicenumber=None)
    (item,) = parse(body)
    assert type(item) is Quarantined and item.field == "servicenumber" and item.record_index == 0
    (leg,) = parse(body, params={"servicenumber": "319001122334", "customer_id": "1"})
    assert leg.service_number == "+319001122334"


# --- time zones -----------------------------------------------------------------------------

@pytest.mark.parametrize("local, utc", [
    ("15-01-2026 12:00:00", datetime(2026, 1, 15, 11, 0, tzinfo=UTC)),   # winter, +01:00
    ("15-07-2026 12:00:00", datetime(2026, 7, 15, 10, 0, tzinfo=UTC)),   # summer, +02:00
    ("29-03-2026 01:59:59", datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)),  # just before the jump
    ("29-03-2026 03:00:00", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),    # just after it
    ("25-10-2026 01:59:59", datetime(2026, 10, 24, 23, 59, 59, tzinfo=UTC)),
    ("25-10-2026 03:00:00", datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
    ("5-3-2026 7:05:09", datetime(2026, 3, 5, 6, 5, 9, tzinfo=UTC)),     # no leading zeros
])
def test_amsterdam_wall_clock_to_utc(local, utc):
    leg = one(timestamp=local)
    assert leg.started_at == utc
    assert "dst_ambiguous" not in attributes(leg)


@pytest.mark.parametrize("local", ["29-03-2026 02:00:00", "29-03-2026 02:30:00", "29-03-2026 02:59:59",
                                   "26-03-2028 02:10:00"])
def test_the_hour_skipped_in_march_is_quarantined(local):
    item = one(timestamp=local)
    assert type(item) is Quarantined
    assert item.field == "TIMESTAMP" and "does not exist in Europe/Amsterdam" in item.reason
    assert local in item.record


@pytest.mark.parametrize("policy, utc", [("earlier", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
                                         ("later", datetime(2026, 10, 25, 1, 30, tzinfo=UTC))])
def test_the_hour_repeated_in_october_follows_the_policy_and_is_flagged(policy, utc):
    (leg,) = parse(block(record(timestamp="25-10-2026 02:30:00")), repeated_hour=policy)
    assert leg.started_at == utc
    assert attributes(leg)["dst_ambiguous"] is True
    assert attributes(leg)["local_time"] == "25-10-2026 02:30:00"


def test_repeated_hour_policy_quarantine_and_environment():
    (item,) = parse(block(record(timestamp="25-10-2026 02:00:00")), repeated_hour="quarantine")
    assert type(item) is Quarantined and "ambiguous" in item.reason
    body = block(record(timestamp="25-10-2026 02:30:00")).encode()
    # the variable reaches the parser through the account's settings, read once
    account = account_from_env(SPEC, {"BELFABRIEK_DST_REPEATED_HOUR": "later"})
    assert account.settings.parse_settings() == BelfabriekParseSettings(dst_repeated_hour="later")
    assert next(account.parse([RawPage(1, 1, body, None)], "a")).started_at.hour == 1
    assert next(parse_pages([RawPage(1, 1, body, None)], "a")).started_at.hour == 0  # the default: earlier
    with pytest.raises(ConfigurationError, match="BELFABRIEK_DST_REPEATED_HOUR") as refused:
        account_from_env(SPEC, {"BELFABRIEK_DST_REPEATED_HOUR": "whenever"})
    assert refused.value.setting == "BELFABRIEK_DST_REPEATED_HOUR"
    with pytest.raises(ValueError, match="dst_repeated_hour"):
        BelfabriekParseSettings(dst_repeated_hour="whenever")


def test_policy_changes_the_time_but_not_the_key():
    body = block(record(timestamp="25-10-2026 02:30:00"))
    earlier, later = parse(body, repeated_hour="earlier")[0], parse(body, repeated_hour="later")[0]
    assert earlier.leg_key == later.leg_key
    assert later.started_at - earlier.started_at == timedelta(hours=1)


# --- leg keys -------------------------------------------------------------------------------

def test_identical_calls_in_one_window_both_survive():
    twin = record(timestamp="02-11-2026 10:15:00", number="0612345678", duration="42", extension_id="101")
    legs = parse(block(twin, record(timestamp="02-11-2026 10:16:00"), twin, twin))
    keys = [leg.leg_key for leg in legs]
    assert len(set(keys)) == 4
    assert [k.rsplit("-", 1)[1] for k in keys] == ["0", "0", "1", "2"]
    assert keys[0].rsplit("-", 1)[0] == keys[2].rsplit("-", 1)[0] == keys[3].rsplit("-", 1)[0]


def test_the_ordinal_counts_across_all_pages_of_the_window():
    twin = record()
    legs = parse(block(twin), block(twin))
    assert [leg.leg_key[-2:] for leg in legs] == ["-0", "-1"]
    assert [leg.raw_response_id for leg in legs] == [7, 8]


def test_overlapping_windows_give_the_same_keys():
    # 00:00:00 UTC: the end of one day's window and the start of the next
    boundary = record(timestamp="03-11-2026 01:00:00")
    day_one = parse(block(record(timestamp="02-11-2026 23:00:00"), boundary))
    day_two = parse(block(boundary, record(timestamp="03-11-2026 09:00:00")))
    assert day_one[1].leg_key == day_two[0].leg_key
    assert day_one[1].started_at == day_two[0].started_at == datetime(2026, 11, 3, tzinfo=UTC)


@pytest.mark.parametrize("change", [{"number": "0201234568"}, {"duration": "61"}, {"extension_id": "102"},
                                   {"timestamp": "02-11-2026 10:15:01"}])
def test_each_part_of_the_content_changes_the_key(change):
    assert one().leg_key != one(**change).leg_key


def test_service_number_is_part_of_the_key():
    other = block(record(), servicenumber="319001122334")
    assert parse(block(record()))[0].leg_key != parse(other)[0].leg_key


def test_quarantined_records_take_no_ordinal():
    twin = record()
    legs = parse(block(twin, record(duration="x"), twin))
    assert [type(i).__name__ for i in legs] == ["CallLeg", "Quarantined", "CallLeg"]
    assert [legs[0].leg_key[-2:], legs[2].leg_key[-2:]] == ["-0", "-1"]


# --- hostile bodies -------------------------------------------------------------------------

@pytest.mark.parametrize("change, field, reason", [
    ({"timestamp": None}, "TIMESTAMP", "missing"),
    ({"timestamp": ""}, "TIMESTAMP", "missing"),
    ({"timestamp": "2026-11-02 10:15:00"}, "TIMESTAMP", "not dd-mm-yyyy"),
    ({"timestamp": "31-02-2026 10:15:00"}, "TIMESTAMP", "not a valid time"),
    ({"timestamp": "02-11-2026 25:15:00"}, "TIMESTAMP", "not a valid time"),
    ({"duration": None}, "DURATION", "missing"),
    ({"duration": "-5"}, "DURATION", "negative"),
    ({"duration": "lang"}, "DURATION", "not a number"),
    ({"duration": "99999999999999"}, "DURATION", "implausible duration"),
    ({"timestamp": "01-01-0001 00:30:00"}, "TIMESTAMP", "implausible year"),
    ({"timestamp": "31-12-9999 23:59:59"}, "TIMESTAMP", "implausible year"),
    ({"NUMBER": "<X>1</X>", "number": None}, "NUMBER", "child elements"),
])
def test_bad_records_are_quarantined_with_the_field(change, field, reason):
    item = one(**change)
    assert type(item) is Quarantined
    assert (item.provider, item.field, item.record_index, item.raw_response_id) == ("belfabriek", field, 0, 7)
    assert reason in item.reason
    assert item.record.startswith("<RECORD>")


def test_a_field_given_twice_is_quarantined():
    item = parse(block("<RECORD><TIMESTAMP>02-11-2026 10:15:00</TIMESTAMP><DURATION>1</DURATION>"
                       "<DURATION>2</DURATION></RECORD>"))[0]
    assert (type(item), item.field) == (Quarantined, "DURATION") and "twice" in item.reason


def test_bad_record_does_not_stop_the_body():
    items = parse(block(record(), record(timestamp="gisteren"), record(timestamp="02-11-2026 12:00:00")))
    assert [type(i).__name__ for i in items] == ["CallLeg", "Quarantined", "CallLeg"]
    assert items[1].record_index == 1


@pytest.mark.parametrize("body, reason", [
    (block(record()).replace("</RECORD>", "</RECORDS>"), "malformed XML"),
    (block(record(location="Bergen & Zoom")), "malformed XML"),
    ("<html><body>502 Bad Gateway</body></html>", "root element <HTML>"),
    ("<RESULTS><RECORD><TIMESTAMP>02-11-2026 10:15:00</TIMESTAMP></RECORD></RESULTS>",
     "root element <RESULTS>"),
    ("<STATISTICS/>", "root element <STATISTICS>"),
    ('{"items": []}', "text outside any element"),
    ("", "empty body"),
    ("   \n", "empty body"),
    # the doc's example as printed, with no RECORD around the TIMESTAMP
    (block("<TIMESTAMP>22-10-2011 14:00:20</TIMESTAMP>"), "unexpected element <TIMESTAMP>"),
    ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     + block(record(location="&x;")), "malformed XML"),
    ('<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
     + block(record(location="&b;")), "malformed XML"),
])
def test_unreadable_bodies_are_quarantined_whole(body, reason):
    items = parse(body)
    assert [type(i) for i in items] == [Quarantined]
    assert items[0].record_index == -1 and reason in items[0].reason, items[0].reason
    assert "root:x" not in items[0].reason  # no entity was ever resolved


@pytest.mark.parametrize("body, code, message", [
    ((FIXTURES / "error_invalid_hash.xml").read_text(), "1", "Invalid hash and/or user"),
    ("<RESPONSE><ERROR>5</ERROR><MESSAGE>Too many requests/second. Try again later</MESSAGE></RESPONSE>", "5",
     "Too many requests"),
    (('<CALLER_DATA_RECORDS servicenumber="1"><ERROR>2</ERROR><MESSAGE>Invalid start_timestamp</MESSAGE>'
      "</CALLER_DATA_RECORDS>"), "2", "Invalid start_timestamp"),
])
def test_error_bodies_are_recognised_in_any_wrapper(body, code, message):
    (item,) = parse(body)
    assert type(item) is Quarantined and item.record_index == -1 and item.field == "ERROR"
    assert f"code {code}" in item.reason and message in item.reason
    error = summarize(body.encode()).error
    assert error.code == code and message in error.message


def test_a_truncated_body_keeps_what_was_read_and_quarantines_the_rest():
    body = block(*(record(timestamp=f"02-11-2026 10:{m:02d}:00") for m in range(10))).encode()
    cut = body[: body.index(b"10:07:00")]
    items = parse(cut)
    assert [type(i) for i in items] == [CallLeg] * 7 + [Quarantined]
    assert items[-1].record_index == -1 and "truncated" in items[-1].reason
    with pytest.raises(Exception, match="truncated"):
        summarize(cut)


def test_junk_after_the_document_is_quarantined_after_its_records():
    items = parse(block(record()) + " trailing junk")
    assert [type(i) for i in items] == [CallLeg, Quarantined]
    assert items[1].record_index == -1 and "text outside any element" in items[1].reason


def test_a_huge_body_is_streamed_in_constant_memory(tmp_path):
    """200,000 records (about 45 MB) parse with less memory growth than the body's own size;
    building the tree would take about nine times the body."""
    path = tmp_path / "huge.xml"
    start = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # only formatted, without an offset
    with path.open("w") as out:
        out.write('<CALLERS_DATA_RECORDS><CALLER_DATA_RECORDS servicenumber="318001234567">\n')
        for i in range(200_000):
            moment = (start + timedelta(seconds=i)).strftime("%d-%m-%Y %H:%M:%S")
            out.write(record(timestamp=moment, number=f"06{i % 5000:08d}", duration=str(i % 900),
                             extension_id="101", extension_name="Receptie") + "\n")
        out.write("</CALLER_DATA_RECORDS></CALLERS_DATA_RECORDS>\n")
    size = path.stat().st_size
    script = (
        "import resource, sys\n"
        "from pipelines.providers.belfabriek.parse import parse_pages\n"
        "from pipelines.model import RawPage\n"
        "from pipelines.providers.belfabriek.settings import BelfabriekParseSettings\n"
        "body = open(sys.argv[1], 'rb').read()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "legs = sum(1 for item in parse_pages([RawPage(1, 1, body, None)], 'a',"
        " BelfabriekParseSettings('earlier'))"
        " if type(item).__name__ == 'CallLeg')\n"
        "print(legs, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                            check=True)
    legs, growth = map(int, result.stdout.split())
    assert legs == 200_000
    assert size > 40 * 2**20
    assert growth < size, f"memory grew {growth / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB body"


def test_cli_parse_writes_json_lines():
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "parse", "--provider", "belfabriek",
                             str(FIXTURES / "doc_example.xml")], capture_output=True, check=True)
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [line["started_at"] for line in lines] == ["2011-10-22T12:00:20+00:00",
                                                      "2011-10-22T17:42:05+00:00"]
    assert lines[0]["attributes"]["location"] == "Amsterdam"


def test_cli_parse_reports_a_latin1_body_as_a_note(tmp_path):
    latin1 = tmp_path / "latin1.xml"
    latin1.write_bytes(block(record(location=FRISIAN)).encode("latin-1"))
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "parse", "--provider", "belfabriek",
                             str(latin1)], capture_output=True, text=True, check=True)
    assert orjson.loads(result.stdout)["attributes"]["location"] == FRISIAN
    assert result.stderr == ("belfabriek: note: 1 pages decoded as latin1 (no declared encoding and not"
                             " valid UTF-8: read as ISO-8859-1)\n")


def test_cli_parse_names_provider_and_field_on_bad_input(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text(block(record(timestamp="29-03-2026 02:30:00")))
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "parse", "--provider", "belfabriek",
                             str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "belfabriek: record 0: field 'TIMESTAMP': 29-03-2026 02:30:00 does not exist" in result.stderr
