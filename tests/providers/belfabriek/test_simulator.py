"""The Belfabriek simulator behaves as the doc says, over real HTTP: error codes 1-5, defaults,
the service-number filter, Dutch vocabulary and both DST transitions in its data."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from pipelines.errors import ParseError
from pipelines.providers.belfabriek import SIM_CUSTOMER_HASH, SIM_CUSTOMER_ID, SPEC
from pipelines.providers.belfabriek.parse import local_time, summarize, to_utc
from pipelines.providers.belfabriek.simulator import (
    FRISIAN_PLACES,
    PLACES,
    SERVICE_NUMBERS,
    AnswerShape,
    BelfabriekData,
    day_calls,
    dst_change,
    render,
)
from pipelines.simulation import SimulatorServer
from tests.providers.belfabriek.conftest import ACCOUNT, CUSTOMER, HASH

DAY = date(2026, 11, 2)
START = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp())


def get(sim, **params):
    query = {"customer_hash": HASH, "customer_id": CUSTOMER, "start_timestamp": START,
             "end_timestamp": START + 86_400, **params}
    return httpx.get(sim.url + "/statistics/", params={k: v for k, v in query.items() if v is not None})


@pytest.mark.parametrize("params, code", [
    ({"customer_hash": "0" * 32}, "1"),
    ({"customer_id": "999"}, "1"),
    ({"customer_hash": None}, "1"),
    ({"start_timestamp": "gisteren"}, "2"),
    ({"end_timestamp": "1.5e9"}, "3"),
    ({"start_timestamp": START + 10, "end_timestamp": START}, "4"),
])
def test_error_codes_1_to_4_come_with_http_200(sim, params, code):
    response = get(sim, **params)
    assert response.status_code == 200
    assert summarize(response.content).error.code == code


def test_error_5_when_over_the_per_second_limit(sim):
    sim.state.rate_limit_per_s = 2
    codes = [summarize(get(sim).content).error for _ in range(4)]
    assert codes[:2] == [None, None]
    assert [e.code for e in codes[2:]] == ["5", "5"]
    assert sim.counters.errors == {"5": 2}


def test_without_timestamps_only_the_last_five_minutes(sim):
    call = next(c for c in day_calls(sim.data, ACCOUNT, DAY) if c.at.hour == 10)
    sim.state.fixed_now = call.at + timedelta(seconds=60)
    body = get(sim, start_timestamp=None, end_timestamp=None).content
    first, last = call.at - timedelta(seconds=240), call.at + timedelta(seconds=60)
    expected = [c for c in day_calls(sim.data, ACCOUNT, DAY) if first <= c.at <= last]
    assert summarize(body).records == len(expected) >= 1
    assert call.local_text.encode() in body


def test_servicenumber_filter_and_the_silent_fallback_to_every_number(sim):
    one = get(sim, servicenumber="319001122334").content
    assert one.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n'
                          b'<CALLER_DATA_RECORDS servicenumber="319001122334"')
    for unowned in ("318009999999", "0800-1234567"):
        everything = get(sim, servicenumber=unowned).content
        assert everything.count(b"<CALLER_DATA_RECORDS ") == len(SERVICE_NUMBERS)
        assert summarize(everything).records == summarize(get(sim).content).records


def test_a_number_without_calls_answers_no_record(sim):
    quiet = START + 3 * 3600  # 04:00-04:00:10 Amsterdam: nobody calls
    body = get(sim, start_timestamp=quiet + 1, end_timestamp=quiet + 10).content
    assert body.count(b"<NO_RECORD>No Record</NO_RECORD>") == len(SERVICE_NUMBERS)


def test_data_is_dutch_many_numbers_deterministic_and_has_a_midnight_call(sim):
    calls = day_calls(sim.data, ACCOUNT, DAY)
    assert calls[0].at == datetime(2026, 11, 2, tzinfo=UTC)
    assert len({c.service_number for c in calls}) == len(SERVICE_NUMBERS)
    assert {"Mobiel", "Amsterdam", "Buitenland"} <= {c.location for c in calls}
    assert {c.peak for c in calls} == {"peak", "dal"}
    assert {"Receptie", "Klantenservice"} <= {c.extension_name for c in calls}
    assert len(calls) - len(set(calls)) >= 1  # exact twins
    assert get(sim).content == get(sim).content


def test_dst_transitions_are_in_the_data(sim):
    spring, autumn = date(2026, 3, 29), date(2026, 10, 25)
    assert dst_change(spring) == timedelta(hours=1)
    assert dst_change(autumn) == timedelta(hours=-1)
    assert dst_change(DAY) == timedelta(0)
    # October: the same wall-clock text at two true times an hour apart, and flagged calls in both passes
    autumn_calls = day_calls(sim.data, ACCOUNT, autumn)
    by_text = {}
    for call in autumn_calls:
        by_text.setdefault(call.local_text, set()).add(call.at)
    assert any(len(times) == 2 for times in by_text.values())
    repeated = [c for c in autumn_calls if c.local_text.startswith("25-10-2026 02:")]
    assert {c.at.hour for c in repeated} == {0, 1}
    assert all(to_utc(local_time(c.local_text), "earlier")[1] for c in repeated)
    # March: one call written inside the hour that does not exist
    gap = [c for c in day_calls(sim.data, ACCOUNT, spring) if c.local_text.startswith("29-03-2026 02:")]
    assert len(gap) == 1
    with pytest.raises(ParseError, match="does not exist"):
        to_utc(local_time(gap[0].local_text), "earlier")
    # and the server answers those days as any other
    spring_start = int(datetime(2026, 3, 29, tzinfo=UTC).timestamp())
    body = get(sim, start_timestamp=spring_start, end_timestamp=spring_start + 86_400).content
    assert gap[0].local_text.encode() in body


def test_answers_can_be_latin1_with_or_without_a_declaration_and_wrapped_in_any_root(sim):
    utf8 = get(sim).content
    assert utf8.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<CALLERS_DATA_RECORDS>\n')
    answer = httpx.post(sim.url + "/_sim/answer", json={"encoding": "ISO-8859-1", "declaration": False,
                                                        "wrapper": "STATISTICS"})
    assert answer.status_code == 200
    bare = get(sim)
    assert bare.headers["content-type"] == "text/xml"
    assert bare.content.startswith(b"<STATISTICS>\n<CALLER_DATA_RECORDS ")
    assert bare.content.replace(b"STATISTICS>", b"CALLERS_DATA_RECORDS>") == utf8.split(b"\n", 1)[1]
    httpx.post(sim.url + "/_sim/answer", json={"encoding": "ISO-8859-1"})
    assert get(sim).content.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<CALLERS_DATA_RECORDS>')
    assert httpx.post(sim.url + "/_sim/answer", json={"encoding": "klingon"}).status_code == 400
    assert httpx.post(sim.url + "/_sim/answer", json={"colour": "blue"}).status_code == 400
    httpx.post(sim.url + "/_sim/answer", json={})
    assert get(sim).content == utf8


def test_place_names_with_accents_are_written_in_the_answer_encoding():
    data = BelfabriekData(places=PLACES + FRISIAN_PLACES)
    frisian = [c for c in day_calls(data, ACCOUNT, DAY) if c.location == "S\u00fadwest-Frysl\u00e2n"]
    assert frisian
    window = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
    for encoding in ("UTF-8", "ISO-8859-1"):
        body = render([("318001234567", frisian)], *window, True, AnswerShape(encoding, declaration=False))
        assert "<LOCATION>S\u00fadwest-Frysl\u00e2n</LOCATION>".encode(encoding) in body


def test_cdr_etl_simulate_can_serve_the_statistics_at_another_path(monkeypatch):
    monkeypatch.setenv("BELFABRIEK_SIM_STATISTICS_PATH", "/api/statistieken.asp")
    simulated = SPEC.simulator(None, accounts=2)
    assert simulated.environment["BELFABRIEK_STATISTICS_PATH"] == "/api/statistieken.asp"
    assert all(a.options == {"statistics_path": "/api/statistieken.asp"} for a in simulated.accounts)
    with SimulatorServer(simulated.app) as server:
        query = {"customer_hash": SIM_CUSTOMER_HASH, "customer_id": SIM_CUSTOMER_ID,
                 "start_timestamp": START, "end_timestamp": START + 86_400}
        assert summarize(httpx.get(server.url + "/api/statistieken.asp", params=query).content).records > 200
        assert httpx.get(server.url + "/statistics/", params=query).status_code == 404
    monkeypatch.delenv("BELFABRIEK_SIM_STATISTICS_PATH")
    assert "BELFABRIEK_STATISTICS_PATH" not in SPEC.simulator(None).environment
