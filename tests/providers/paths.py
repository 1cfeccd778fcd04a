"""What a provider's pages become in the warehouse through one of its parser's two paths, for the
tests that hold a fast path equal to the field-by-field one at the level users see: rows."""
from __future__ import annotations

import psycopg

from pipelines.model import RawPage
from pipelines.providers.spec import ProviderSpec
from pipelines.warehouse.aggregates import refresh_stale
from pipelines.warehouse.load import load_window
from tests.conftest import LEG_TABLES, snapshot, truncate_warehouse


def loaded(url: str, spec: ProviderSpec, days: list[list[RawPage]], *, fast: bool) -> dict[str, list[tuple]]:
    """Every row of the leg tables (and the provider's other kinds) after loading `days`, each a
    window's pages, from an empty warehouse; load-time columns left out."""
    truncate_warehouse(url)
    with psycopg.connect(url) as conn:
        for pages in days:
            window = pages[0].window
            assert window is not None
            with conn.transaction():
                load_window(conn, spec.name, "acct", window, spec.items,
                            spec.parse_pages(pages, "acct", fast=fast))
        first, last = min(p[0].window[0] for p in days), max(p[0].window[1] for p in days)
        for target in ("calls", "aggregates"):
            refresh_stale(conn, target, (first, last))
    tables = dict.fromkeys((*LEG_TABLES, *(kind.table for kind in spec.items)))
    return snapshot(url, tuple(tables), across_loads=True)
