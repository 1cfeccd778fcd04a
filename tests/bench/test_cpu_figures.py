"""`make bench`'s CPU figures: the machine's busy CPU seconds grow by what a process burns, a stage
timed in part records none, and the first load's best ratio to the reference is its legs over its
CPU seconds spread across the cores, over the reference's legs/s."""
from __future__ import annotations

import os
import time

from pipelines import bench


def test_busy_seconds_count_what_a_process_burns():
    before, started = bench.machine_busy_s(), time.process_time()
    while time.process_time() - started < 0.5:
        pass
    assert bench.machine_busy_s() - before >= 0.4  # this process's half second, at least


def stages(first_cpu_s: float | None) -> list[bench.Stage]:
    named = {bench.FIRST_LOAD: (1_000_000, 50.0), bench.REFERENCE: (1_000_000, 20.0),
             "project: identical re-run": (1_000_000, 2.0),
             "aggregates refresh of one day (hourly + daily)": (33_000, 0.1),
             "calls assembly of one day": (33_000, 0.4), bench.MART_REFRESH: (33_000, 0.1),
             bench.NUMBER_ENRICHMENT: (33_000, 0.5)}
    return [bench.Stage("tenios", name, legs, seconds, 200.0, rewritten=0,
                        cpu_s=first_cpu_s if name == bench.FIRST_LOAD else None)
            for name, (legs, seconds) in named.items()]


def test_the_first_loads_cpu_work_bounds_its_ratio_to_the_reference():
    figures = bench.report(stages(first_cpu_s=80.0), days=30)["tenios"]
    cores = os.cpu_count() or 1
    # at best the 80 CPU-s take 80 / cores seconds; the reference loads 50,000 legs/s
    assert figures["first_load_cpu_bound_vs_reference"] == (1_000_000 / (80.0 / cores)) / 50_000
    assert figures["first_load_cores_busy"] == 80.0 / 50.0
    assert figures["first_load_vs_reference"] == 20.0 / 50.0


def test_a_run_without_cpu_figures_reports_no_bound():
    figures = bench.report(stages(first_cpu_s=None), days=30)["tenios"]
    assert "first_load_cpu_bound_vs_reference" not in figures
