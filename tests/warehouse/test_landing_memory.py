"""A day's large body is landed without holding it more than about once (issue 19, target 4),
and lands byte for byte as the provider served it.

Memory is measured in a process of its own (tests/warehouse/land_measured.py) as the growth of
its peak RSS while it lands days from the MIXvoip simulator, which runs here, in the test's
process, so that serving does not count. Nothing is timed.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
import sys
from datetime import timedelta

import httpx
import orjson

from pipelines.simulators import running_simulators
from tests.conftest import PAST_DAY, rows
from tests.simulator_driver import restored_environment

# The bench's day at 1M legs over 30 days: each of the day's two bodies is ~100k CSV records, ~9 MB.
LEGS_PER_DAY = 33_000
MEASURED_DAYS = 6
# What landing the days may add to the peak, in bodies of the largest size, however many days:
# the body being checked and stored, its gzip (about a seventh of it), and the allocator's slack
# (glibc raises its mmap and trim thresholds to the largest block freed, so a few bodies' worth of
# freed memory may stay). The former client's grew with the days: httpx's copy of each body stayed
# alive in a reference cycle until the cycle collector ran, on top of its lines split into a list
# and the previous page's body held while the next one arrived. With MIXVOIP_END_DATE known the
# client also keeps the last window's answers to reuse (two profiles, up to two requests each), so
# up to three more bodies, a constant: the former client's growth was one body per request landed.
BODIES_OF_GROWTH = 9.0
_CSV_ROW = re.compile(rb"^\s*['\"]?[A-Za-z][A-Za-z0-9_]*['\"]?\s*,")


def test_a_large_body_lands_in_bounded_memory_byte_for_byte(clean_warehouse):
    days = [(PAST_DAY + timedelta(days=i)).isoformat() for i in range(MEASURED_DAYS + 1)]
    with restored_environment(), running_simulators(["mixvoip"], legs_per_day=LEGS_PER_DAY) as running:
        os.environ["MIXVOIP_FORMAT"] = "csv"
        child = subprocess.run([sys.executable, "-m", "tests.warehouse.land_measured", clean_warehouse,
                                *days], capture_output=True, text=True, timeout=900, check=False)
        assert child.returncode == 0, child.stderr[-2000:]
        measured = orjson.loads(child.stdout.strip().splitlines()[-1])
        credentials = {"username": os.environ["MIXVOIP_USERNAME"], "password": os.environ["MIXVOIP_PASSWORD"]}
        stored = rows(clean_warehouse, "SELECT endpoint, body_sha256, body_bytes, body_gzip,"
                                       " window_start::date FROM cdr.raw_response ORDER BY id")
        # What the simulator serves for each stored request, read by plain httpx, not the client.
        served = [httpx.get(running["mixvoip"] + endpoint, params=credentials, timeout=60).content
                  for endpoint, *_ in stored]
    # at least one body per profile and day (a day may take two requests: MIXVOIP_END_DATE)
    assert len(stored) >= 2 * len(days)
    for (_, sha256, size, body_gzip, _), body in zip(stored, served, strict=True):
        assert gzip.decompress(body_gzip) == body
        assert (bytes(sha256), size) == (hashlib.sha256(body).digest(), len(body))
    largest = max(len(body) for body in served)
    assert largest > 5_000_000  # the bench's size: ~70k records a body (one or two dates a request)
    measured_bodies = [body for row, body in zip(stored, served, strict=True)
                       if row[4].isoformat() != days[0]]
    # counted as the client always counted them: non-blank lines that read as CSV rows
    assert measured["records"] == sum(1 for body in measured_bodies for line in body.splitlines()
                                      if _CSV_ROW.match(line))
    assert measured["growth_kib"] * 1024 < BODIES_OF_GROWTH * largest, (
        f"landing {MEASURED_DAYS} days raised the peak RSS by {measured['growth_kib'] / 1024:.0f} MiB,"
        f" {measured['growth_kib'] * 1024 / largest:.1f} times the largest body ({largest / 2**20:.1f} MiB)")
