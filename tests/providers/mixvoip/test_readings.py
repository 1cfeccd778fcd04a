"""What --probe reports of MIXvoip's open readings, from one answer (readings.observe_readings)."""
from __future__ import annotations

import orjson

from pipelines.model import FetchedPage
from pipelines.providers.mixvoip import SPEC
from pipelines.providers.mixvoip.conformance import CONFORMANCE
from pipelines.providers.mixvoip.readings import observe_readings

CSV_EXAMPLE, JSON_EXAMPLE = (path.read_bytes() for path, _ in CONFORMANCE.fixtures)
PATH = "/cdrs/getcalls/100201/2021-06-29/2021-06-30"


def readings(body: bytes, path: str = PATH + "/json", content_type: str = "application/json"
             ) -> dict[str, str]:
    return dict(observe_readings(FetchedPage(path, {}, 1, 200, content_type, body, 0)))


def test_the_spec_offers_them_to_probe():
    assert SPEC.observe_readings is observe_readings


def test_the_json_doc_example():
    seen = readings(JSON_EXAMPLE)
    assert seen["format segment accepted"] == "json: HTTP 200, application/json"
    assert seen["answer shape"] == ("JSON array of 2 records; raw line breaks inside strings: yes"
                                    " (read as spaces)")
    assert seen["record fields present"] == ("source 2, destination 2, destination_name 2, call_start 2,"
                                             " duration 2, pbxextension 2, quantity 2, price 2, invoice 2;"
                                             " absent: call_end")
    assert seen["time stamp form (call_start)"] == ("YYYY-MM-DD HH:MM:SS 2; no offset: read in"
                                                    " MIXVOIP_TIMEZONE")
    assert seen["record types"] == "CALLIN 1 of 2, CALLOUT 1 of 2"
    assert seen["invoice"] == "N/A or empty 2"


def test_the_csv_doc_example_and_the_upper_case_segment():
    seen = readings(CSV_EXAMPLE, PATH + "/CSV", "text/csv")
    assert seen["format segment accepted"] == "CSV: HTTP 200, text/csv"
    assert seen["answer shape"] == "CSV, 2 rows, no header"
    assert seen["CSV columns"] == "10 columns 1 of 2, 9 columns 1 of 2"
    assert seen["time stamp form (call_start)"].startswith("YYYY-MM-DD,HH:MM:SS 1 of 2,"
                                                           " YYYY-MM-DD HH:MM:SS 1 of 2")
    assert "absent: call_end" in seen["record fields present"]


def test_offsets_undocumented_types_and_fields_and_invoices():
    record = orjson.loads(JSON_EXAMPLE.replace(b"\n", b" "))[1]
    record["data"].update(call_start="2021-06-29T08:24:31+02:00", invoice="202106-100201", carrier="POST")
    other = {**record, "type": "CONSULTING"}
    seen = readings(orjson.dumps([record, other]), PATH)
    assert seen["format segment accepted"].startswith("none (the old form's JSON default)")
    assert seen["answer shape"].endswith("raw line breaks inside strings: no")
    assert seen["time stamp form (call_start)"] == "with an offset 2"
    assert seen["record types"].endswith("not in the docs: CONSULTING (billing items unless"
                                         " MIXVOIP_EXTRA_CALL_TYPES)")
    assert seen["record fields present"].endswith("absent: call_end; undocumented: carrier")
    assert seen["invoice"] == "an invoice number 2"


def test_an_answer_that_is_refused_or_empty():
    assert readings(b"{}")["answer shape"].startswith("refused: body is an empty JSON object")
    assert readings(b"[]")["records"].startswith("none in this answer")
