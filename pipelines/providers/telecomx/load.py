"""Parsed Telecom X statistics -> COPY into staging -> one guarded upsert into cdr.fact_pbx_stats.

The caller owns the transaction (one per day). Quarantined records go through the shared
pipelines.warehouse.load.merge_quarantined.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable

import psycopg

from pipelines.model import Quarantined
from pipelines.providers.telecomx.parse import STATS_COLUMNS, PbxStatsRow
from pipelines.sql import sql_file
from pipelines.warehouse.load import merge_quarantined

_COPY_STATS = "COPY stage_pbx_stats ({}) FROM STDIN".format(", ".join(STATS_COLUMNS))


@dataclass(frozen=True)
class StatsLoad:
    rows_parsed: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int

    def as_metadata(self) -> dict[str, int]:
        return asdict(self)


def load_stats(conn: psycopg.Connection, items: Iterable[PbxStatsRow | Quarantined]) -> StatsLoad:
    conn.execute(sql_file("load/stage_telecomx_stats.sql"))
    quarantined: list[Quarantined] = []
    with conn.cursor() as cur:
        with cur.copy(_COPY_STATS) as copy:
            for item in items:
                if type(item) is Quarantined:
                    quarantined.append(item)
                else:
                    copy.write_row(item)
        merge_quarantined(conn, quarantined)
        staged, distinct, inserted, updated = cur.execute(sql_file("load/merge_telecomx_stats.sql")).fetchone()
    return StatsLoad(staged, inserted, updated, distinct - inserted - updated, len(quarantined))
