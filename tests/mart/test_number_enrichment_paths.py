"""The number dimension's two enrichment paths give one row: `enrich_number` (the fast path for
`+digits`, what enrich_new_numbers stores) equals `enrich_number_reference` (phonenumbers' public
calls, field by field) on every number a few simulated days of the four providers put in the
warehouse, on hand-picked edge cases and on generated strings; and the fast path does read the
simulators' numbers itself."""
from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from pipelines.simulators import running_simulators
from pipelines.warehouse.mart import NumberRow, e164_row, enrich_number, enrich_number_reference
from tests.conftest import PAST_DAY, rows, truncate_warehouse
from tests.dagster_runs import failure_messages, run_range
from tests.simulator_driver import restored_environment

PROVIDERS = ["tenios", "belfabriek", "mixvoip", "telecomx"]
DAYS = 3

EDGE_CASES = [
    # the simulators' and the providers' countries, mobile and fixed, and service ranges
    "+31612345678", "+31201234567", "+318001234567", "+319001122334", "+318503036000",
    "+493012345678", "+4915112345678", "+4922199887700", "+4980012345678", "+4990012345678",
    "+35227123456", "+352621123456", "+35269123456", "+3522123", "+4532123456", "+4520123456",
    "+33123456789", "+32412345678", "+442071234567", "+447911123456",
    # a national prefix after the country code, which parse strips where the rest is possible
    "+490301234567", "+4407911123456", "+3102012345678", "+4900", "+49000", "+490",
    # leading zeros of the national number, which int() would drop (Italy, Côte d'Ivoire, Gabon)
    "+390612345678", "+39061234567", "+3906", "+39000", "+390000000000", "+3900000000000000000",
    "+2250123456789", "+22501234567", "+24101234567",
    # shared country codes: the region and the name depend on the number
    "+12015550123", "+14165550123", "+18765550123", "+12425551234", "+16045550123", "+19995550123",
    "+12684601234", "+12680000000",  # Antigua by its leading digits, valid and not
    "+447781123456", "+447624123456", "+447797123456", "+447700900123", "+441481123456",
    "+79123456789", "+77012345678", "+262262123456", "+262269601234", "+590590123456",
    "+5999123456", "+4779123456", "+358181234567", "+61891621234", "+212528123456", "+2908123",
    # Argentina's mobile 9 (the geocoder's own path), geographic mobiles (Brazil, Mexico)
    "+5491123456789", "+541123456789", "+5511912345678", "+525512345678",
    # non-geographic codes: a type, no country
    "+80012345678", "+870773123456", "+88213123456", "+883510012345", "+80812345678", "+979123456789",
    # lengths: too short, too long, around the 17-digit national number limit
    "+", "+1", "+12", "+123", "+4912", "+49123", "+49" + "1" * 17, "+49" + "1" * 18, "+1" + "2" * 19,
    "+" + "9" * 20, "+" + "9" * 21, "+49301234567890123456789",
    # no country code or an unknown one
    "+0123456789", "+00491234567", "+999123456", "+2891234567", "+8091234567",
    # not `+digits`: the reference path
    "", "anonymous", "anoniem", "204", "112", "0800123456", "+49 30 1234567", "+49-30-1234567",
    "+49 (0)30 1234567", "+493012345678;ext=12", "+493012345678x12", "tel:+493012345678",
    "sip:204@pbx.example", "+\uff14\uff19\uff13\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17",
    "+\u0664\u0669\u0663\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667", "+\u00b2\u00b3\u00b9",
    "++493012345678", "+493012345678 ", " +493012345678", "+1 800 FLOWERS",
]


def assert_same(number: str) -> NumberRow:
    fast = enrich_number(number)
    assert fast == enrich_number_reference(number), number
    return fast


@pytest.fixture(scope="module")
def stored_numbers(warehouse_url) -> dict[str, tuple]:
    """The number dimension as the nightly job fills it (its number_dimension asset runs
    enrich_new_numbers) after a few days of every provider, fetched over HTTP."""
    truncate_warehouse(warehouse_url)
    last = PAST_DAY
    with restored_environment(), running_simulators(PROVIDERS, legs_per_day=400):
        result = run_range(PROVIDERS, (last - timedelta(days=DAYS - 1)).isoformat(), last.isoformat())
    assert result.success, failure_messages(result)
    return {number: tuple(row) for number, *row in rows(
        warehouse_url, "SELECT number, e164, country_iso, country_name, number_type, region, country_code"
                       " FROM cdr.number_enrichment")}


def test_every_stored_number_is_the_reference_row(stored_numbers, warehouse_url):
    legs_numbers = {number for (number,) in rows(warehouse_url, """
        SELECT DISTINCT n.number FROM cdr.fact_call_leg l
        CROSS JOIN LATERAL (VALUES (l.caller_number), (l.called_number), (l.service_number)) AS n(number)
        WHERE n.number <> ''""")}
    assert set(stored_numbers) == legs_numbers
    providers = rows(warehouse_url, "SELECT DISTINCT provider FROM cdr.fact_call_leg")
    assert {provider for (provider,) in providers} >= {"tenios", "belfabriek", "mixvoip"}
    differing = {number: (row, enrich_number_reference(number)[1:]) for number, row in stored_numbers.items()
                 if row != enrich_number_reference(number)[1:]}
    assert differing == {}
    assert len(stored_numbers) > 1000


def test_the_fast_path_reads_the_simulators_numbers_itself(stored_numbers):
    """Without this, a fast path that handed every number to the reference would pass the
    equality tests (and be no faster)."""
    international = [number for number in stored_numbers if number.startswith("+")]
    assert len(international) > 1000
    assert [number for number in international if e164_row(number) is None] == []
    kinds = {row.number_type for row in map(e164_row, international) if row is not None}
    assert kinds >= {"mobile", "fixed", "toll_free", "premium"}


@pytest.mark.parametrize("number", EDGE_CASES)
def test_edge_cases(number):
    assert_same(number)


def test_the_edge_cases_reach_every_part_of_the_fast_path():
    """The list above is only worth its cases if they reach the branches: a leading zero kept,
    a national prefix stripped, a region of a shared code, an area, a non-geographic code."""
    fast = {number: enrich_number(number) for number in EDGE_CASES}
    assert fast["+390612345678"].e164 == "+390612345678"
    assert fast["+490301234567"].e164 == "+49301234567"
    assert fast["+14165550123"].country_iso == "CA"
    assert fast["+447781123456"].country_iso == "GG"
    assert fast["+493012345678"].region == "Berlin"
    assert fast["+80012345678"][2:5] == (None, None, "toll_free")
    assert fast["+5491123456789"].number_type == "mobile"


# Numbers that start with a real country code, so that most reach the region's ranges.
CODES = sorted(str(code) for code in COUNTRY_CODE_TO_REGION_CODE)
digits = st.text(alphabet="0123456789", min_size=0, max_size=17)
PROPERTY = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.text(alphabet="0123456789", min_size=1, max_size=21))
def test_plus_and_digits(tail):
    assert_same("+" + tail)


@PROPERTY
@given(st.sampled_from(CODES), digits)
def test_a_country_code_and_digits(code, tail):
    assert_same("+" + code + tail)


@PROPERTY
@given(st.text(max_size=25))
def test_any_text(text):
    assert_same(text)


@PROPERTY
@given(st.text(alphabet=st.sampled_from("0123456789+ -()x;#\uff15\u0665"), max_size=20))
def test_plus_and_phone_characters(text):
    assert_same("+" + text)


def test_a_row_does_not_depend_on_the_numbers_enriched_before():
    """A country name cached by country once answered for a number the library names no country
    (an invalid +1 268: Antigua by its leading digits, valid for no region) once a valid
    Antigua number had been enriched in the same process."""
    for enrich in (enrich_number_reference, enrich_number):
        assert enrich("+12684601234").country_name == "Antigua and Barbuda"
        assert enrich("+12680000000")[2:5] == ("AG", None, "unknown")
