"""Access to the SQL files in sql/: the load, aggregate and view statements live there, not in Python."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
# Statements in a parameterised script are separated by a `;` that ends a line before a blank line.
_STATEMENT_BREAK = re.compile(r";[ \t]*\n[ \t]*\n")


@lru_cache(maxsize=None)
def sql_file(relative: str) -> str:
    """The text of sql/<relative>, read once."""
    return (SQL_DIR / relative).read_text()


@lru_cache(maxsize=None)
def sql_statements(relative: str) -> tuple[str, ...]:
    text = sql_file(relative)
    return tuple(s.strip() for s in _STATEMENT_BREAK.split(text) if s.strip().strip(";").strip())


def run_script(conn, relative: str, params: Mapping[str, Any] | None = None) -> None:
    """Run each statement of sql/<relative> with the same named parameters.

    Parameterised statements go one at a time: the extended query protocol takes one per call.
    """
    for statement in sql_statements(relative):
        conn.execute(statement, params)
