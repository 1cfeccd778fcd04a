"""The share of fuzzed inputs that reach a parser's record-level code, measured in a process of
its own: `python -m tests.fuzz.share PROVIDER` prints "REACHED TOTAL".

In the test process the share moved with what else the session had imported (Belfabriek 52% with
the fuzz tests alone, 48% with any other test package collected first: the same 300 derandomized
examples, different seeds; not explained yet), so the bound is checked on a fresh interpreter that
imports only this.
"""
from __future__ import annotations

import sys

from hypothesis import HealthCheck, given, settings

from pipelines.errors import CdrEtlError
from pipelines.model import ParseNote, Quarantined
from tests.fuzz.payloads import SPECS, fuzzed_pages, time_limit

SAMPLE = 300
PER_EXAMPLE_LIMIT_S = 20


def reached_records(items: list | None) -> bool:
    """The parser got past the body to its records: it yielded a row, or refused one record."""
    return items is not None and any(type(item) not in (Quarantined, ParseNote)
                                     or (type(item) is Quarantined and item.record_index >= 0)
                                     for item in items)


def parse_or_typed_error(provider: str, pages) -> list | None:
    """The items of `pages`, or None when the parser raised the project's typed error."""
    with time_limit(PER_EXAMPLE_LIMIT_S):
        try:
            return list(SPECS[provider].parse_pages(pages, "acct"))
        except CdrEtlError:
            return None


def record_level_share(provider: str) -> tuple[int, int]:
    reached: list[bool] = []

    @settings(max_examples=SAMPLE, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(pages=fuzzed_pages(provider))
    def sample(pages):
        reached.append(reached_records(parse_or_typed_error(provider, pages)))

    sample()
    return sum(reached), len(reached)


if __name__ == "__main__":
    print(*record_level_share(sys.argv[1]))
