"""Every provider parser against thousands of mutated payloads: each input either yields the
provider's row types (legs, quarantined records, its own rows) or raises the project's typed
error; never another exception, never a hang, never a row PostgreSQL would refuse.

CDR_FUZZ_EXAMPLES raises the example count per parser for a deep run (default sized so that the
four parsers together stay well under a minute).
"""
from __future__ import annotations

import os
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.errors import CdrEtlError
from pipelines.model import CallLeg, Quarantined
from pipelines.providers import registry
from pipelines.providers.mixvoip.billing import BillingItem
from pipelines.providers.telecomx.parse import PbxStatsRow
from tests.fuzz.payloads import PROVIDERS, fuzzed_pages, seed_pages, time_limit, unstorable

EXAMPLES = int(os.environ.get("CDR_FUZZ_EXAMPLES", "2000"))
ROW_TYPES = {
    "tenios": (CallLeg, Quarantined),
    "belfabriek": (CallLeg, Quarantined),
    "mixvoip": (CallLeg, BillingItem, Quarantined),
    "telecomx": (PbxStatsRow, Quarantined),
}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=5),  # generous: two cores shared with other developers' runs
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
PER_EXAMPLE_LIMIT_S = 20  # a hard stop for a parser that would never return


def parse_or_typed_error(provider: str, pages) -> list | None:
    """The items of `pages`, or None when the parser raised the project's typed error."""
    with time_limit(PER_EXAMPLE_LIMIT_S):
        try:
            return list(registry()[provider].parse_pages(pages, "acct"))
        except CdrEtlError:
            return None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unmutated_seeds_parse_into_rows(provider):
    """The seeds reach the record-level code: without this the mutations would only test the
    parsers' "not a body" exits."""
    items = parse_or_typed_error(provider, seed_pages()[provider])
    assert items is not None
    assert sum(type(i) is not Quarantined for i in items) >= 5, items[:3]


@pytest.mark.parametrize("provider", PROVIDERS)
@FUZZ
@given(data=st.data())
def test_mutated_pages_yield_rows_or_the_typed_parse_error(provider, data):
    pages = data.draw(fuzzed_pages(provider), label="pages")
    items = parse_or_typed_error(provider, pages)
    for item in items or ():
        assert type(item) in ROW_TYPES[provider], type(item)
        assert not unstorable(item), (unstorable(item), item)
        if type(item) is Quarantined:
            assert item.reason and item.record_index >= -1 and item.raw_response_id in {p.raw_response_id for p in pages}
