"""What --probe reports of Telecom X's open readings, from one answer (readings.observe_readings)."""
from __future__ import annotations

import orjson

from pipelines.model import FetchedPage
from pipelines.providers.telecomx import SPEC
from pipelines.providers.telecomx.conformance import CONFORMANCE, FOREIGN_ANSWERS
from pipelines.providers.telecomx.readings import observe_readings

((EXAMPLE, EXAMPLE_PARAMS),) = CONFORMANCE.fixture_pages()
HOUR = {"from": "2026-11-02T00:00:00.000Z", "to": "2026-11-02T23:59:59.999Z", "groupingInterval": "HOUR"}


def readings(body: bytes, params: dict) -> dict[str, str]:
    return dict(observe_readings(FetchedPage("/pbx/cdrstats", params, 1, 200, "application/json", body, 0)))


def test_the_spec_offers_them_to_probe():
    assert SPEC.observe_readings is observe_readings


def test_the_doc_example():
    seen = readings(EXAMPLE, EXAMPLE_PARAMS)
    assert seen["answer shape"] == "JSON array of 3 employees"
    assert seen["employee fields"] == ("employeeId all 3, employeeName all 3, extensionId all 3,"
                                       " extensionNumber all 3")
    assert seen["interval keys (WEEK)"] == "3 distinct, bare numbers 49-51"
    assert seen["counters present"] == "all 10 in every interval"
    assert seen["inbound counters"] == ("inboundAnswered 0 in all 9 intervals with inbound calls;"
                                        " answered + unanswered + busy = inboundCalls in 0 of 9")
    assert "busiest hour key" not in seen


def test_hour_keys_busiest_hour_and_missing_counters():
    counters = {"inboundCalls": 2, "inboundAnswered": 1, "inboundUnanswered": 1, "inboundBusy": 0,
                "outboundCalls": 1}
    data = {"07": counters, "9": {**counters, "outboundCalls": 9}}
    body = orjson.dumps([{"employeeId": "e1", "data": data}, {"employeeName": "no id", "data": {"x1": {}}}])
    seen = readings(body, HOUR)
    assert seen["employee fields"] == ("employeeId 1 of 2, employeeName 1 of 2, extensionId 0 of 2,"
                                       " extensionNumber 0 of 2")
    assert seen["interval keys (HOUR)"] == "3 distinct, bare numbers 7-9, zero-padded: 07, not numbers: 'x1'"
    assert seen["busiest hour key"].startswith("9 (11 calls), quietest x1 (0)")
    assert seen["counters present"].startswith("missing: outboundSeconds in 3 of 3")
    assert "inboundCalls in 1 of 3" in seen["counters present"]
    assert seen["inbound counters"].endswith("inboundCalls in all 2")


def test_answers_that_are_refused_or_empty():
    for name, body, _ in FOREIGN_ANSWERS:
        assert readings(body.encode(), HOUR)["answer shape"].startswith("refused: "), name
    assert readings(b"[]", HOUR)["intervals"].startswith("none in this answer")
