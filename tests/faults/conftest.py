"""Print the fault matrix at the end of a run that produced it."""
from __future__ import annotations

import json

from tests.faults.test_provider_fault_matrix import RESULTS_FILE


def pytest_terminal_summary(terminalreporter):
    if not RESULTS_FILE.exists():
        return
    rows = json.loads(RESULTS_FILE.read_text())
    if not rows:
        return
    write = terminalreporter.write_line
    terminalreporter.section("provider fault matrix")
    write(f"{'provider':<11}{'fault':<48}{'injected':>9}{'lost':>6}{'dup':>5}  outcome")
    for r in rows:
        write(f"{r['provider']:<11}{r['fault'][:47]:<48}{r['injected']:>9}{r['rows_lost']:>6}"
              f"{r['rows_duplicated']:>5}  {r['outcome'][:60]}")
