"""A Dagster run in its own OS process (tests/recovery/run_partition.py), watched through
pg_stat_activity so a test can act at a precise point of the load: SIGKILL the process, restart
the server, or just let it finish.

The victim's connections carry a unique application_name (PGAPPNAME, read by libpq), which is
how its backends are told apart from everyone else's on a shared server.
"""
from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pipelines.providers.spec import CALL_LEGS
from pipelines.sql import sql_file, sql_statements
from pipelines.warehouse.connection import PROJECT_ROOT

_names = itertools.count(1)
# Generous: only there so that a broken run fails the test instead of hanging the suite.
PHASE_TIMEOUT_S = 120
POLL_INTERVAL_S = 0.002


@dataclass(frozen=True)
class Phase:
    """A condition on a pg_stat_activity row, with its parameters."""

    condition: str
    params: tuple = ()

    def and_(self, condition: str) -> Phase:
        return Phase(f"{self.condition} AND {condition}", self.params)


def running(statement: str) -> Phase:
    """Running a statement that starts with `statement` (pg_stat_activity keeps only the first
    1 kB of a query, so match its start)."""
    return Phase("state = 'active' AND starts_with(query, %s)", (statement,))


def blocked_at(statement: str) -> Phase:
    """Waiting for a table lock in a statement that starts with `statement`."""
    return running(statement).and_("wait_event_type = 'Lock'")


# The points at which a test acts on the victim.
# pages landed (whatever the backend does now), the window's transaction still open. The
# statements are matched on the start of their text as sent, leading comment included.
_STORE_PAGE = sql_file("raw/store_page.sql")
FETCHING = Phase("starts_with(query, %s)",
                 (_STORE_PAGE[:_STORE_PAGE.index("INSERT INTO cdr.raw_response") + 28],))
# the load path's COPY names the staging table as a quoted identifier (pipelines.warehouse.load)
COPYING = running(f'COPY "{CALL_LEGS.staging_table}" ')
# the MERGE itself: the script's last statement (its first makes the partitions the legs need,
# in a few milliseconds)
MERGING = running(sql_statements("load/merge_call_legs.sql")[-1][:200])
REFRESHING_AGGREGATES_BLOCKED = blocked_at("DELETE FROM cdr.agg_call_leg_hourly")


class Victim:
    def __init__(self, url: str, providers: list[str], first: str, last: str, log_dir: Path,
                 extra_env: dict[str, str] | None = None):
        self.url = url
        self.application_name = f"cdr-recovery-victim-{os.getpid()}-{next(_names)}"
        self.kills = 0  # SIGKILLs delivered: the fault counted, not assumed
        self.running_at_kill: list[str] = []
        self.log_path = log_dir / f"{self.application_name}.log"
        env = {**os.environ, **(extra_env or {}), "CDR_WAREHOUSE_URL": url,
               "PGAPPNAME": self.application_name}
        with open(self.log_path, "wb") as log:  # a file, not a pipe: a full pipe would stall the victim
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.recovery.run_partition", ",".join(providers), first, last],
                env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)

    def backends(self, phase: Phase = Phase("true")) -> list[int]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return self._backends(conn, phase)

    def _backends(self, conn, phase: Phase) -> list[int]:
        return [pid for (pid,) in conn.execute(
            f"SELECT pid FROM pg_stat_activity WHERE application_name = %s AND ({phase.condition})",
            (self.application_name, *phase.params)).fetchall()]

    def wait_for(self, phase: Phase) -> int:
        """Poll until one of the victim's backends is in `phase`; return its pid.

        Fails if the victim exits first: the moment was missed and the test would prove nothing.
        """
        deadline = time.monotonic() + PHASE_TIMEOUT_S
        with psycopg.connect(self.url, autocommit=True) as conn:  # autocommit: a fresh view each poll
            while True:
                pids = self._backends(conn, phase)
                if pids:
                    return pids[0]
                if self.process.poll() is not None:
                    raise AssertionError(f"the victim exited ({self.process.returncode}) before {phase};"
                                         f" its output:\n{self.output()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"the victim never reached {phase}")
                time.sleep(POLL_INTERVAL_S)

    def kill(self) -> None:
        """SIGKILL: no exception handler, no rollback, no goodbye to the server. What its backends
        were running the moment before is kept in `running_at_kill`, so a test (and the figures)
        can tell a kill during COPY from one during MERGE."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            self.running_at_kill = [query for (query,) in conn.execute(
                "SELECT left(query, 200) FROM pg_stat_activity"
                " WHERE application_name = %s AND state = 'active'",
                (self.application_name,)).fetchall()]
        os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait(timeout=PHASE_TIMEOUT_S) == -signal.SIGKILL, "it ended before the kill"
        self.kills += 1

    def wait_until_backends_gone(self) -> None:
        """The server notices a dead client only when it next talks to it (a running MERGE ends
        first); until then its backend still holds the transaction and its locks."""
        deadline = time.monotonic() + PHASE_TIMEOUT_S
        while self.backends():
            if time.monotonic() > deadline:
                raise AssertionError("the killed victim's backends are still there")
            time.sleep(0.05)

    def finish(self) -> int:
        return self.process.wait(timeout=PHASE_TIMEOUT_S)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")
