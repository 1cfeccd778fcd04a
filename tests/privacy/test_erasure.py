"""Erasure of a subscriber number (issue 18) through the real path: simulators over HTTP -> the
nightly job -> `cdr-etl erase` -> a re-pull; asserted on every relation of cdr and mart, every
decompressed raw body and the Dagster events of the re-pull."""
from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta

import orjson
import psycopg
import pytest

from pipelines import cli
from pipelines.config import Configuration
from pipelines.errors import WindowNotReplayableError
from pipelines.warehouse.aggregates import refresh_stale_marks
from pipelines.warehouse.load import load_windows
from tests.conftest import rows, scalar
from tests.dagster_runs import failure_messages, run_range
from tests.privacy.helpers import national_digits, where_found
from tests.simulator_driver import simulators

DAY = date(2026, 10, 5)
EVERYTHING = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
PROVIDERS = ["tenios", "belfabriek"]
KPIS = ("SELECT provider, account, local_date, sum(calls), sum(answered), sum(talk_s), sum(cost_eur)"
        " FROM mart.kpi_daily GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
AGGREGATES = ("SELECT provider, account, day, sum(legs), sum(calls), sum(duration_s), sum(cost_eur)"
              " FROM cdr.agg_call_leg_daily GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")


@pytest.fixture(scope="module")
def sims():
    with simulators(PROVIDERS, TENIOS_PAGE_SIZE="100") as drivers:
        yield drivers


@pytest.fixture
def loaded(sims, clean_warehouse):
    run(DAY, 2)
    settle(clean_warehouse)
    return clean_warehouse


def settle(url: str) -> None:
    """Recompute what the run left marked (a Belfabriek leg just past the range marks the next
    day), so that KPIs compared before and after an erasure differ only by what it did."""
    with psycopg.connect(url) as conn:
        for target in ("calls", "aggregates", "mart"):
            refresh_stale_marks(conn, target, EVERYTHING)


def run(first: date, days: int = 1):
    result = run_range(PROVIDERS, first.isoformat(), (first + timedelta(days=days - 1)).isoformat())
    assert result.success, failure_messages(result)
    return result


def erase(*arguments: str, capsys) -> dict[str, int]:
    """`cdr-etl erase ...`; its receipt as {table: count}."""
    assert cli.main(["erase", *arguments]) == 0
    out = capsys.readouterr().out
    return {m[1]: int(m[2]) for m in re.finditer(r"^  (\S+)\s+(\d+) ", out, re.MULTILINE)}


def a_tenios_caller(url: str) -> str:
    """A caller the TENIOS simulator served on DAY whose call was forwarded with a caller name:
    the number is in several legs, a call, the attributes and the raw bodies."""
    return scalar(url, "SELECT caller_number FROM cdr.fact_call_leg WHERE provider = 'tenios'"
                       " AND attributes ? 'callerid_name' AND started_at::date = %s"
                       " ORDER BY started_at LIMIT 1", (DAY,))


def a_belfabriek_mobile(url: str) -> str:
    """A Dutch mobile number the Belfabriek simulator sent in national form (06...)."""
    return scalar(url, "SELECT attributes->>'number' FROM cdr.fact_call_leg WHERE provider = 'belfabriek'"
                       " AND attributes->>'number' LIKE '+316%%' ORDER BY started_at LIMIT 1")


def test_erasure_removes_the_number_everywhere_and_a_repull_keeps_it_erased(loaded, capsys):
    url = loaded
    number = a_tenios_caller(url)
    before = where_found(url, number)
    assert {"cdr.fact_call_leg", "cdr.fact_call", "cdr.number_enrichment", "raw bodies"} <= set(before)
    legs, kpis, aggregates = (scalar(url, "SELECT count(*) FROM cdr.fact_call_leg"), rows(url, KPIS),
                              rows(url, AGGREGATES))
    holding = scalar(url, "SELECT count(*) FROM cdr.fact_call_leg WHERE caller_number = %s", (number,))
    assert holding >= 2

    # an access request lists the number's legs, and counts what else holds it
    capsys.readouterr()
    assert cli.main(["subject", "--number", number]) == 0
    listed = capsys.readouterr()
    legs_listed = [orjson.loads(line) for line in listed.out.splitlines()]
    assert len(legs_listed) == holding and all(number in (leg["caller_number"], leg["called_number"])
                                               for leg in legs_listed)
    assert f"cdr.fact_call: {before['cdr.fact_call']}" in listed.err

    dry = erase("--number", number, "--dry-run", capsys=capsys)
    assert where_found(url, number) == before  # a dry run changes nothing
    receipt = erase("--number", number, capsys=capsys)
    assert receipt == dry  # the dry run did all of it, then rolled it back

    # the receipt counts what held the number, table by table
    assert receipt["cdr.fact_call_leg"] == holding == before["cdr.fact_call_leg"]
    assert receipt["cdr.fact_call"] == before["cdr.fact_call"]
    assert receipt["cdr.number_enrichment"] == before["cdr.number_enrichment"] == 1
    assert receipt["cdr.raw_response"] >= before["raw bodies"] >= 1  # with the rest of their fetches
    assert receipt["cdr.unreplayable_window"] >= 1
    assert where_found(url, number) == {}
    # the legs are kept, without the number; counts, minutes and cost are unchanged
    assert scalar(url, "SELECT count(*) FROM cdr.fact_call_leg") == legs
    assert scalar(url, "SELECT count(*) FROM cdr.fact_call_leg WHERE caller_number = 'erased'") == holding
    assert scalar(url, "SELECT count(*) FROM cdr.fact_call_leg WHERE attributes->>'callerid_name' IS NOT NULL"
                       " AND caller_number = 'erased'") == 0
    assert rows(url, KPIS) == kpis and rows(url, AGGREGATES) == aggregates
    # recorded under a salted hash, never the number
    assert scalar(url, "SELECT count(*) FROM cdr.erasure") == 1
    assert scalar(url, "SELECT number_hash = sha256(convert_to(%s, 'UTF8')) FROM cdr.erasure",
                  (number,)) is False

    # a re-parse of a window whose pages went says so, instead of loading nothing
    config = Configuration.from_env({**os.environ, "CDR_PROVIDERS": "tenios"})
    source = config.account("tenios")
    gone = rows(url, "SELECT window_start, window_end FROM cdr.unreplayable_window WHERE provider = 'tenios'")
    with pytest.raises(WindowNotReplayableError, match=r"not replayable.*deleted by erasure"):
        load_windows(lambda **kw: psycopg.connect(url, **kw), "tenios", source.account,
                     source.spec.items, [gone[0]], parse=source.parse, parser_version=source.parser_version,
                     force=True)

    # the provider still serves the number: a re-pull brings it back, and the load erases it again
    result = run(DAY, 2)
    settle(url)
    assert where_found(url, number) == {}
    assert scalar(url, "SELECT count(*) FROM cdr.fact_call_leg") == legs
    assert scalar(url, "SELECT count(*) FROM cdr.fact_call_leg WHERE caller_number = 'erased'") == holding
    assert rows(url, KPIS) == kpis and rows(url, AGGREGATES) == aggregates
    # nor is it in anything the run told Dagster
    digits = national_digits(number)
    events = [str(event) for event in result.all_events]
    assert events and not [e for e in events if digits in e]


def test_a_national_number_in_raw_xml_is_found_and_a_scoped_erasure_leaves_other_accounts(loaded, capsys):
    url = loaded
    number = a_belfabriek_mobile(url)
    before = where_found(url, number)
    assert "raw bodies" in before
    receipt = erase("--number", number, "--provider", "tenios", capsys=capsys)
    assert receipt["cdr.fact_call_leg"] == 0 and receipt["cdr.raw_response"] == 0
    assert where_found(url, number) == before
    receipt = erase("--number", number, "--provider", "belfabriek", capsys=capsys)
    assert receipt["cdr.fact_call_leg"] == before["cdr.fact_call_leg"]
    assert where_found(url, number) == {}
    run(DAY, 2)
    assert where_found(url, number) == {}


def test_a_number_not_in_e164_is_refused_without_being_echoed(capsys, warehouse_url):
    assert cli.main(["erase", "--number", "0612345678"]) == 1
    err = capsys.readouterr().err
    assert "E.164" in err and "0612345678" not in err
