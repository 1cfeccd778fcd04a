"""One Dagster run of a partition range in its own OS process, for tests/faults/test_rate_limits.py:

    python -m tests.faults.rate_limited_run PROVIDERS FIRST LAST [--alone] [--persistent]

`--alone`: the control, each client pacing itself alone, as before the pacing was shared (the
raw-pages asset's DatabasePacing replaced by one that hands out in-process pacers).
`--persistent`: the Dagster instance of DAGSTER_HOME (its dagster.yaml, pools included) instead of
an ephemeral one, which keeps no concurrency slots.
It exits 0 when the run succeeded, 1 with the failure messages on stderr when it failed.
"""
from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from unittest import mock

from dagster import DagsterInstance

from pipelines.providers.base import RequestPacer
from pipelines.providers.belfabriek.client import Pacer
from tests.dagster_runs import failure_messages, run_range


class PacingAlone:
    """DatabasePacing's interface with nothing shared: every pacer is the client's own."""

    def __init__(self, *_: object):
        pass

    def __call__(self, per_second: float) -> RequestPacer:
        return Pacer(per_second)

    def close(self) -> None:
        pass


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("providers")
    parser.add_argument("first")
    parser.add_argument("last")
    parser.add_argument("--alone", action="store_true")
    parser.add_argument("--persistent", action="store_true")
    args = parser.parse_args(argv)
    instance = DagsterInstance.get() if args.persistent else None
    with mock.patch("pipelines.assets.provider.DatabasePacing", PacingAlone) if args.alone else nullcontext():
        result = run_range(args.providers.split(","), args.first, args.last, instance=instance)
    if result.success:
        return 0
    for message in failure_messages(result):
        print(message, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
