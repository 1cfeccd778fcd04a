"""Every provider parser against thousands of mutated payloads: each input either yields the
provider's row types (its kinds of rows and quarantined records, and parse notes) or raises the
project's typed error; never another exception, never a hang, never a row PostgreSQL would refuse.

CDR_FUZZ_EXAMPLES raises the example count per parser for a deep run (default sized so that the
parsers together stay well under a minute).
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.model import ParseNote, Quarantined
from pipelines.providers.spec import QUARANTINE
from tests.fuzz.payloads import SPECS, column_types, fuzzed_pages, seed_pages, unstorable
from tests.fuzz.share import parse_or_typed_error

EXAMPLES = int(os.environ.get("CDR_FUZZ_EXAMPLES", "2000"))
# The table each row type lands in, by provider: its kinds, and the quarantine.
TABLE_OF = {name: {kind.row_type: kind.table for kind in (*spec.items, QUARANTINE)}
            for name, spec in SPECS.items()}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=5),  # generous: two cores shared with other developers' runs
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


@pytest.fixture(scope="module")
def columns(warehouse_url):
    """The columns of every table a parsed row can land in, as the migrated schema declares them."""
    return column_types(warehouse_url, {table for tables in TABLE_OF.values() for table in tables.values()})


@pytest.mark.parametrize("provider", list(SPECS))
def test_unmutated_seeds_parse_into_rows(provider):
    """The seeds reach the record-level code: without this the mutations would only test the
    parsers' "not a body" exits."""
    items = parse_or_typed_error(provider, seed_pages()[provider])
    assert items is not None
    assert sum(type(i) is not Quarantined for i in items) >= 5, items[:3]


@pytest.mark.parametrize("provider", list(SPECS))
@FUZZ
@given(data=st.data())
def test_mutated_pages_yield_rows_or_the_typed_parse_error(provider, columns, data):
    pages = data.draw(fuzzed_pages(provider), label="pages")
    items = parse_or_typed_error(provider, pages)
    for item in items or ():
        if type(item) is ParseNote:  # not a row: what the parser assumed, summed into the window's figures
            assert item.name and item.total >= 1 and item.detail, item
            continue
        assert type(item) in TABLE_OF[provider], type(item)
        problems = unstorable(item, columns[TABLE_OF[provider][type(item)]])
        assert not problems, (problems, item)
        if type(item) is Quarantined:
            assert item.reason and item.record_index >= -1
            assert item.raw_response_id in {page.raw_response_id for page in pages}


@pytest.mark.parametrize("provider", list(SPECS))
def test_most_mutated_pages_reach_the_record_level_code(provider):
    """The property above holds for a parser that refuses every body whole; this bounds the share
    of generated inputs that get past the body to the records (at least half), so the fuzzing
    exercises the code that reads fields, and a parser that rejects everything fails here.
    Measured in a fresh interpreter (tests/fuzz/share.py says why)."""
    done = subprocess.run([sys.executable, "-m", "tests.fuzz.share", provider], capture_output=True,
                          text=True, check=True, timeout=600)
    reached, total = map(int, done.stdout.split())
    share = reached / total
    print(f"{provider}: {share:.0%} of {total} mutated inputs reached record-level parsing")
    assert share >= 0.5, f"{provider}: only {share:.0%} of mutated inputs reached record-level parsing"
