"""The loader a warehouse team would pick instead, run on the same legs as the project by
`make bench PEERS=dlt`: dlt's merge into the same PostgreSQL, in a schema of its own.

Imports dlt, the optional extra `peers`; only pipelines.bench imports this module, and only when
the peer's stage runs, so nothing Dagster or the CLI loads needs dlt installed.

dlt gets the legs the project's parsers produce, one dict a leg as a dlt user would yield them,
one `pipeline.run` a day (the grain the project loads at), with the merge write disposition and
the fact's key as primary key. Its working files, state and configuration live in a scratch
directory removed afterwards, and its telemetry is off: the run writes nothing outside that
directory and the database, and needs no network.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from types import NoneType
from typing import get_args, get_type_hints
from urllib.parse import urlsplit, urlunsplit

import dlt
import psycopg
from dlt.common.runtime.run_context import RunContext, switched_run_context
from dlt.common.schema.typing import TColumnSchema, TDataType

from pipelines.model import CallLeg
from pipelines.sql import sql_file

# Where dlt loads: a schema of its own in the bench database (dlt adds DATASET + "_staging" for
# the merge), so its tables never meet the project's.
DATASET = "peer_dlt"
TABLE = "fact_call_leg"
# dlt's type for each Python type a leg's fields hold (pipelines.model.CallLeg).
DLT_TYPES: dict[type, TDataType] = {str: "text", int: "bigint", datetime: "timestamp", Decimal: "decimal"}


def leg_columns() -> dict[str, TColumnSchema]:
    """dlt's column hints for the legs, from CallLeg's annotations: every column typed, as a
    careful dlt user declares them, since dlt leaves out a column no leg of the first load fills
    (TENIOS has no customer) and would otherwise warn on every run."""
    columns: dict[str, TColumnSchema] = {}
    for name, hint in get_type_hints(CallLeg).items():
        types = [t for t in get_args(hint) if t is not NoneType] or [hint]
        columns[name] = {"data_type": DLT_TYPES[types[0]], "nullable": NoneType in get_args(hint)}
    return columns


class ScratchRunContext(RunContext):
    """dlt's run context with its global folder in the scratch directory too: run as root, dlt
    takes /var/dlt whatever the environment says, and every pipeline step writes an anonymous id
    there, telemetry on or off."""

    def __init__(self, scratch: str):
        super().__init__(scratch)
        self.scratch = scratch

    @property
    def global_dir(self) -> str:
        return self.scratch


@contextmanager
def isolated_dlt() -> Iterator[Path]:
    """dlt with every folder it reads or writes (data, project settings, global) in a scratch
    directory and its telemetry off, whatever dlt variables the environment held; the environment
    and run context as they were afterwards. dlt reads these variables when a pipeline is made,
    not when it is imported."""
    with TemporaryDirectory(prefix="cdr-bench-dlt-") as scratch:
        settings = {"DLT_DATA_DIR": scratch, "DLT_PROJECT_DIR": scratch, "RUNTIME__DLTHUB_TELEMETRY": "false"}
        saved = {name: os.environ.get(name) for name in settings}
        os.environ.update(settings)
        try:
            with switched_run_context(ScratchRunContext(scratch)):
                yield Path(scratch)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def dlt_credentials(url: str) -> str:
    """`url` as dlt takes it. dlt refuses a URL without a host in its authority, which is how a
    server reached by its Unix socket is named (the embedded one: `postgresql://user@/db?host=DIR`);
    the `host` of the query overrides the authority's in libpq, so a placeholder there is never used."""
    parts = urlsplit(url)
    if parts.hostname:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc + "localhost"))


def fact_primary_key(url: str) -> list[str]:
    """The fact table's primary key, read from the table itself: dlt merges on the same key."""
    with psycopg.connect(url) as conn:
        return [name for (name,) in conn.execute(sql_file("bench/fact_primary_key.sql"))]


def fresh_target(url: str) -> None:
    """Drop what an earlier run of dlt left, so the next load is a first load."""
    with psycopg.connect(url) as conn:
        conn.execute(sql_file("bench/peer_dlt_fresh.sql"))


def rows_loaded(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql_file("bench/peer_dlt_rows.sql")).fetchone()
    return row[0] if row else 0


def peer_pipeline(url: str, scratch: Path) -> dlt.Pipeline:
    """dlt's pipeline into the bench database; made inside isolated_dlt()."""
    return dlt.pipeline(pipeline_name="cdr_bench_peer", pipelines_dir=str(scratch / "pipelines"),
                        destination=dlt.destinations.postgres(credentials=dlt_credentials(url)),
                        dataset_name=DATASET)


def dlt_merge(url: str, days: Iterable[Iterable[CallLeg]]) -> None:
    """Load each day's legs with dlt's merge, one run a day; `days` may parse lazily."""
    with isolated_dlt() as scratch:
        pipeline = peer_pipeline(url, scratch)
        columns, key = leg_columns(), fact_primary_key(url)
        for legs in days:
            resource = dlt.resource((leg._asdict() for leg in legs), name=TABLE,
                                    write_disposition="merge", primary_key=key,
                                    columns=columns)
            pipeline.run(resource)  # raises if a load job failed (load.raise_on_failed_jobs)
