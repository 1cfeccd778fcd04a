"""The MIXvoip parser's two CSV paths give one result: the one-pass reading and the line-by-line
reading agree item for item and quarantine row for row, on the doc examples, the simulator's days
(both DST changes, CSV and JSON), the rows the parse tests build and the fuzz payloads; and the
one-pass reading reads the simulator's pages itself."""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings

from pipelines.model import CallLeg, RawPage
from pipelines.providers.mixvoip import SPEC
from pipelines.providers.mixvoip import parse as parse_module
from pipelines.providers.mixvoip.parse import _csv_lines, parse_pages
from pipelines.providers.mixvoip.settings import MixvoipParseSettings
from pipelines.providers.mixvoip.simulator import MixvoipData
from tests.fuzz.payloads import fuzzed_pages
from tests.providers.mixvoip.test_client import client, serve
from tests.providers.mixvoip.test_parse import CALLOUT_CSV
from tests.providers.paths import loaded

DAYS = tuple(datetime(2026, month, day, tzinfo=UTC) for month, day in ((3, 29), (10, 25), (11, 2)))
MEANINGS = ("cents_per_quantity", "euros_total")


def both(pages: list[RawPage], meaning: str = "cents_per_quantity") -> list:
    """What each path yields for `pages`; fails the test where they differ."""
    parse_settings = MixvoipParseSettings(price_meaning=meaning, extra_call_types=("SMS",))
    fast = list(parse_pages(pages, "acct", parse_settings))
    slow = list(parse_pages(pages, "acct", parse_settings, fast=False))
    assert fast == slow
    return fast


@pytest.fixture(scope="module")
def simulated_pages() -> dict[str, list[RawPage]]:
    server, _ = serve(MixvoipData(calls_per_day=300))
    out = {}
    with server:
        for fmt in ("csv", "json"):
            for day in DAYS:
                window = (day, day + timedelta(days=1))
                with client(server.url, fmt=fmt) as c:
                    out[f"{fmt} {day:%m-%d}"] = [
                        RawPage(n, p.page, p.body, p.content_type, dict(p.request_params), window)
                        for n, p in enumerate(c.fetch_window(window))]
    return out


@pytest.mark.parametrize("meaning", MEANINGS)
def test_the_paths_agree_on_every_simulated_day(simulated_pages, meaning):
    legs = sum(type(item) is CallLeg for pages in simulated_pages.values() for item in both(pages, meaning))
    assert legs > 1000


def test_the_one_pass_reading_reads_the_simulators_csv_itself(simulated_pages):
    """Without this, a fast path that gave up on every page would pass the equality tests."""
    assert {name: all(_csv_lines(page.body) is not None for page in pages)
            for name, pages in simulated_pages.items()} == {name: name.startswith("csv")
                                                            for name in simulated_pages}


def test_the_paths_agree_on_the_doc_examples():
    for body, params in SPEC.conformance.fixture_pages():
        both([RawPage(1, 1, body, None, params)])


BAD_ROWS = [
    "CALLIN,+35220333000,35220333320,\"2021-06-29 10:40:00\",0,0,0.00,N/A",
    "CALLOUT,+352203,35220,Luxembourg, mobile,\"2021-06-29 08:30:15\",61,'20,2,7.00,N/A",
    "CALLOUT,+352203,35220,\"Luxembourg\",\"2021-06-29 08:30:15\",61,\"20,2,7.00,N/A",
    "CALLIN,+35220333000,35220333320,\"2021-13-45 10:40:00\",0,,0,0.00,N/A",
    "CALLIN,+35220333000,35220333320,yesterday,0,,0,0.00,N/A,x",
    "CALLIN,+35220333000,35220333320,\"2021-06-29 10:40:00\",-3,,0,0.00,N/A",
    ",+35220333000,35220333320,\"2021-06-29 10:40:00\",0,,0,abc,N/A",
    "CALLOUT,+35220333320,35220333000,Luxembourg,2021-06-29,08:30:15,61,'20,2,7.00,N/A",
    "CALLOUT,+35220333320,35220333000,\"Luxembourg\",\"2021-06-29\n08:30:15\",61,'20,2,7.00,N/A",
    "callout,+35220333320,35220333000,\"\",\"2021-06-29T08:30:15\",\"61\",,\"2\",\"7,00\",\"N/A\"",
    "CALLOUT,a\"b,\"c,35220333000,\"2021-06-29 08:30:15\",61,'20,2,7.00,N/A",
    "CALLOUT,  ' +352 ,\" 35220333000 \",x,\" 2021-06-29 08:30:15 \",61,'20,2,7.00,N/A",
    "CALLOUT,+35220333320,35220333000,Lux,\"2021-06-29 08:30:15\",\"2021-06-29 08:29:00\",61,,2,7,N/A",
    "SMS,reseller,SMS,Text,\"2021-06-29 08:30:15\",,,2,9.00,N/A",
    "CALLIN,+35220333000,35220333320,\"2021-06-29 10:40:00\",0,,0,0.00,N/A\x00",
]


def test_the_paths_agree_row_by_row_and_together():
    window = (datetime(2021, 6, 29, tzinfo=UTC), datetime(2021, 6, 30, tzinfo=UTC))
    bodies = [row.encode() for row in (CALLOUT_CSV, *BAD_ROWS)]
    bodies += [b"\r\n".join([CALLOUT_CSV.encode(), CALLOUT_CSV.encode(), row.encode(), b"", b"  "])
               for row in BAD_ROWS]
    bodies += [b"\xef\xbb\xbf" + CALLOUT_CSV.encode(),
               CALLOUT_CSV.replace("Luxembourg", "L\xfcx").encode("cp1252")]
    for body in bodies:
        for page_window in (None, window):
            both([RawPage(3, 1, body, "text/csv", {"profile_id": "100201"}, page_window)])


@settings(max_examples=int(os.environ.get("CDR_FUZZ_EXAMPLES", "400")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(pages=fuzzed_pages("mixvoip"))
def test_the_paths_agree_on_the_fuzz_payloads(pages):
    both(pages)


def test_the_warehouse_rows_are_the_same_by_either_path(clean_warehouse, simulated_pages):
    days = [pages for name, pages in simulated_pages.items() if name.startswith("csv")]
    assert loaded(clean_warehouse, SPEC, days, fast=True) == loaded(clean_warehouse, SPEC, days, fast=False)


# Rows of the shape the one-pass reading passes over when they start outside the page's window,
# and near misses of it, each starting on 2021-06-29 (Luxembourg time) or failing to.
COMMON_SHAPES = [
    "CALLIN,+35220333000,35220333320,\"2021-06-29 10:40:00\",0,'7,0,0.00,N/A",
    "CALLIN,+35220333000,35220333320,\"2021-06-29,23:40:00\",12,,1,0.50,202106-100201",
    "CALLOUT,+35220333320,35220333000,\"Luxembourg\",\"2021-06-29 00:30:15\",61,'20,2,7.00,N/A",
    "CALLOUT,+35220333320,35220333000,\"\",\"2021-06-29 08:30:15\",61,'20,2,7.00,N/A",
    "CALLIN,+35220333000,35220333320,\"2021-02-30 10:40:00\",0,,0,0.00,N/A",
    "CALLIN,+35220333000,35220333320,\"2021-06-29 24:40:00\",0,,0,0.00,N/A",
    "CALLIN,+35220333000,35220333320,\"0001-01-01 00:10:00\",0,,0,0.00,N/A",
    "CALLIN,+35220333000,35220333320,\"9999-12-31 23:59:59\",0,,0,0.00,N/A",
    "CALLIN,+35220333000,35220333320,\"2021-03-28 02:30:00\",0,,0,0.00,N/A",
    "CALLIN,+35220333000,35220333320,\"2021-06-29 10:40:00\",0,,0,0.00,N/A,x",
    "CALLIN,+35220333000,35220333320,\"2021-06-29 10:40:00\",0,,0,0.00",
    "CALLIN,+35220333000,35220333320,\"2021-06-29 10:40:00\",abc,,0,0.00,N/A",
    "CALLOUT,+35220333320,35220333000,\"Lux\",\"2021-06-29 08:30:15\",\"2021-06-29 08:31:15\",61,,2,7,N/A",
    "CALLOUT,+35220333320,35220333000,Lux,\"2021-06-29 08:30:15\",61,'20,2,7.00,N/A",
]


def test_the_paths_agree_on_rows_outside_the_window_and_near_misses_of_their_shape():
    """The one-pass reading passes over a row of a common shape that starts outside the window
    unread; a row it cannot be sure of (an impossible date, a column too many or too few) is read
    and refused as the line-by-line path refuses it, whether or not it is in the window."""
    inside = (datetime(2021, 6, 28, 22, tzinfo=UTC), datetime(2021, 6, 29, 22, tzinfo=UTC))
    windows = [None, inside, (inside[1], inside[1] + timedelta(days=1)),
               (datetime(2021, 7, 3, tzinfo=UTC), datetime(2021, 7, 4, tzinfo=UTC))]
    bodies = [row.encode() for row in COMMON_SHAPES]
    bodies.append("\r\n".join(COMMON_SHAPES).encode())
    bodies.append("\r\n".join(COMMON_SHAPES[:4] * 2).encode())  # repeated rows take ordinals
    # one record with an unquoted name (read by the CSV reader), then the same record of the common
    # shape: the first takes ordinal 0 whichever reading reads it
    bodies.append("\r\n".join([COMMON_SHAPES[-1], COMMON_SHAPES[3]]).encode())
    for body in bodies:
        for page_window in windows:
            both([RawPage(3, 1, body, "text/csv", {"profile_id": "100201"}, page_window)])


def test_the_one_pass_reading_reads_rows_of_the_common_shape_by_one_match(simulated_pages, monkeypatch):
    """Nearly every row the simulator serves is of a common shape, which the one-pass reading reads
    by one match, with no call of row_fields (the field-by-field reading), and leaves out unread
    where it starts outside the window: most rows of a day's pages start on the days either side
    (the overlap of its day-by-day requests)."""
    read: list[int] = []
    real = parse_module.row_fields
    monkeypatch.setattr(parse_module, "row_fields",
                        lambda fields, *rest: read.append(1) or real(fields, *rest))
    for name in ("csv 03-29", "csv 10-25"):
        pages = simulated_pages[name]
        read.clear()
        items = list(parse_pages(pages, "acct"))
        rows = sum(len(_csv_lines(page.body) or ()) for page in pages)
        assert len(read) < rows / 10 and len(items) > rows / 5, name
