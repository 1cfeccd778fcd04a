"""Access to the SQL files: the load, aggregate and view statements live in sql/ (and a provider's
own in its folder's sql/), not in Python. A path is relative to sql/, or absolute."""
from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
# Statements in a parameterised script are separated by a `;` that ends a line before a blank line.
_STATEMENT_BREAK = re.compile(r";[ \t]*\n[ \t]*\n")


@cache
def sql_file(relative: str | Path) -> str:
    """The text of sql/<relative>, read once."""
    return (SQL_DIR / relative).read_text()


@cache
def sql_statements(relative: str | Path) -> tuple[str, ...]:
    text = sql_file(relative)
    return tuple(s.strip() for s in _STATEMENT_BREAK.split(text) if s.strip().strip(";").strip())


def run_script(conn, relative: str | Path, params: Mapping[str, Any] | None = None) -> None:
    """Run each statement of sql/<relative> with the same named parameters.

    Parameterised statements go one at a time: the extended query protocol takes one per call.
    """
    for statement in sql_statements(relative):
        conn.execute(statement, params)


def script_result(conn, relative: str | Path, params: Mapping[str, Any] | None = None, *,
                  prepare: bool | None = None) -> tuple:
    """Run sql/<relative> as `run_script` does and return the first row of its last statement.
    `prepare=False` plans every run for its own parameters (psycopg otherwise prepares a statement
    run often, and the server may then plan it once for any parameters)."""
    *leading, last = sql_statements(relative)
    for statement in leading:
        conn.execute(statement, params, prepare=prepare)
    return conn.execute(last, params, prepare=prepare).fetchone()
