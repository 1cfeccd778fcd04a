"""Run by test_landing_memory.py in a process of its own: land MIXvoip days from the simulator the
environment points at, and print how far the landing raised this process's peak RSS (VmHWM).

argv: the warehouse URL, then ISO days. The first day is landed before the measurement starts
(imports, connections, httpx's pool, the allocator's first arenas); the peak is reset through
/proc/self/clear_refs after it, so the figure is what the other days' fetches and landings add.
"""
from __future__ import annotations

import os
import sys

import orjson
import psycopg

from pipelines.config import account_from_env
from pipelines.partitions import day_window
from pipelines.registry import registry
from pipelines.warehouse.raw import land_window


def status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def main(url: str, days: list[str]) -> None:
    provider = account_from_env(registry()["mixvoip"], os.environ)

    def connect(autocommit: bool = False):
        return psycopg.connect(url, autocommit=autocommit)

    def land(day: str) -> int:
        with provider.open_client(os.environ) as client:
            return land_window(connect, client, "mixvoip", day_window(day))[1]

    land(days[0])
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # VmHWM back to the current RSS
    before = status_kib("VmRSS")
    records = sum(land(day) for day in days[1:])
    print(orjson.dumps({"growth_kib": status_kib("VmHWM") - before, "records": records}).decode())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
