"""The Belfabriek parser's two paths give one result: the iterparse fast path and the event-by-event
walk agree leg for leg, quarantine row for row and note for note, on the doc examples, the
simulator's days (both DST changes, every answer shape, every repeated-hour policy), the bodies
the parse tests build and the fuzz payloads; and the fast path reads the common pages itself."""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings

from pipelines.model import CallLeg, RawPage
from pipelines.providers.belfabriek import SPEC
from pipelines.providers.belfabriek.conformance import HOSTILE_BODIES
from pipelines.providers.belfabriek.parse import _fast_records, _NotFast, parse_pages
from pipelines.providers.belfabriek.settings import BelfabriekParseSettings
from pipelines.providers.belfabriek.simulator import FRISIAN_PLACES, PLACES, BelfabriekData, build_simulator
from pipelines.simulation import SimState, SimulatorServer
from tests.fuzz.payloads import fuzzed_pages
from tests.providers.belfabriek.conftest import ACCOUNT, CUSTOMER, HASH, Sim
from tests.providers.belfabriek.test_client import client
from tests.providers.belfabriek.test_parse import block, record
from tests.providers.paths import loaded

POLICIES = ("earlier", "later", "quarantine")
DAYS = tuple(datetime(2026, month, day, tzinfo=UTC) for month, day in ((3, 29), (10, 25), (11, 2)))
SHAPES = ({}, {"wrapper": "STATISTICS"}, {"encoding": "ISO-8859-1", "declaration": False},
          {"encoding": "ISO-8859-1"})


def both(pages: list[RawPage], policy: str = "earlier") -> list:
    """What each path yields for `pages`; fails the test where they differ."""
    parse_settings = BelfabriekParseSettings(dst_repeated_hour=policy)
    fast = list(parse_pages(pages, "acct", parse_settings))
    slow = list(parse_pages(pages, "acct", parse_settings, fast=False))
    assert fast == slow
    return fast


@pytest.fixture(scope="module")
def simulated_pages() -> dict[str, list[RawPage]]:
    """The simulator's pages of each day in each answer shape, with Frisian place names (accents)."""
    data = BelfabriekData(places=PLACES + FRISIAN_PLACES, rate_limit_per_s=None)
    app = build_simulator({(HASH, CUSTOMER): ACCOUNT}, data, SimState())
    out = {}
    with SimulatorServer(app) as server:
        sim = Sim(server.url, app.state.sim, app.state.counters, data, app)
        for shape in SHAPES:
            sim.answer(**shape)
            for day in DAYS:
                window = (day, day + timedelta(days=1))
                with client(sim) as c:
                    out[f"{shape} {day:%m-%d}"] = [
                        RawPage(n, p.page, p.body, p.content_type, dict(p.request_params), window)
                        for n, p in enumerate(c.fetch_window(window))]
    return out


@pytest.mark.parametrize("policy", POLICIES)
def test_the_paths_agree_on_every_simulated_day_and_shape(simulated_pages, policy):
    legs = 0
    for pages in simulated_pages.values():
        legs += sum(type(item) is CallLeg for item in both(pages, policy))
    assert legs > 1000


def test_the_fast_path_reads_the_documented_shape_itself(simulated_pages):
    """Without this, a fast path that gave up on every page would pass the equality tests."""
    read = {name: all(_reads_fast(page) for page in pages) for name, pages in simulated_pages.items()}
    # a wrapper of another name, and a body that declares no encoding and is not UTF-8, are walked
    assert read == {name: "STATISTICS" not in name and "'declaration': False" not in name
                    for name in simulated_pages}


def _reads_fast(page: RawPage) -> bool:
    try:
        return sum(1 for _ in _fast_records(page.body)) > 0
    except _NotFast:
        return False


def test_the_paths_agree_on_the_doc_examples_and_hostile_bodies():
    pages = [RawPage(1, 1, body, "text/xml", params) for body, params in SPEC.conformance.fixture_pages()]
    pages += [RawPage(10 + i, 1, body, "text/xml", None) for i, body in enumerate(HOSTILE_BODIES)]
    for page in pages:
        both([page])


TWINS = record(timestamp="25-10-2026 02:30:00"), record(timestamp="25-10-2026 02:30:00")
BODIES = [
    block(*TWINS, record(timestamp="29-03-2026 02:30:00"), record(duration="-1"), record(extra="x")),
    block(record(NUMBER2="y"), record(timestamp="1-2-2026  3:04:05"),
          record(timestamp="31-02-2026 10:00:00")),
    block(record(timestamp="02-11-2026 24:00:00"), record(timestamp="02-11-1989 10:00:00"),
          record(duration="1e3")),
    block(record(), servicenumber=None),
    block(record(), servicenumber=" "),
    block(block(record(), servicenumber=""), record(), servicenumber="3120", tag="CALLERS_DATA_RECORDS"),
    f"<CALLERS_DATA_RECORDS>{block(record())}<NO_RECORD>No Record</NO_RECORD></CALLERS_DATA_RECORDS>",
    f"<CALLERS_DATA_RECORDS>{block(record())}<ERROR>5</ERROR><MESSAGE>no</MESSAGE></CALLERS_DATA_RECORDS>",
    block(record(), "<SUMMARY/>", record()),
    block("<SUMMARY/>", record()),
    block(record(), record().replace("<NUMBER>", "<NUMBER><B/>")),
    block(record().replace("</RECORD>", "<RECORD/></RECORD>")),
    block(record()).replace("RECORD>", "record>"),
    block(record()) + block(record()),
    block(record()) + " trailing text",
    block(record(), record())[:-40],
    "<?xml version='1.0' encoding='UTF-8'?>" + block(record(location="Súdwest-Fryslân")),
    block(record(number="Súdwest")).encode("latin-1"),
    b"<?xml version='1.0' encoding='UTF-8'?>" + block(record(location="Ljouwert\xe2")).encode("latin-1"),
    "",
]


@pytest.mark.parametrize("policy", POLICIES)
def test_the_paths_agree_on_the_bodies_the_parse_tests_build(policy):
    for i, body in enumerate(BODIES):
        raw = body.encode() if isinstance(body, str) else body
        both([RawPage(i, 1, raw, "text/xml", {"servicenumber": "318001234567", "customer_id": 5})], policy)
    # one window of several pages: the ordinals of identical records count across them
    both([RawPage(i, i + 1, block(*TWINS).encode(), "text/xml", None) for i in range(3)], policy)


@settings(max_examples=int(os.environ.get("CDR_FUZZ_EXAMPLES", "400")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(pages=fuzzed_pages("belfabriek"))
def test_the_paths_agree_on_the_fuzz_payloads(pages):
    both(pages)


def test_the_warehouse_rows_are_the_same_by_either_path(clean_warehouse, simulated_pages):
    days = [pages for name, pages in simulated_pages.items() if name.startswith("{} ")]
    assert loaded(clean_warehouse, SPEC, days, fast=True) == loaded(clean_warehouse, SPEC, days, fast=False)
