"""The victim of the recovery tests: one Dagster run of a partition range in its own OS process,
so the tests can SIGKILL it for real (python -m tests.recovery.run_partition PROVIDERS FIRST LAST).

It reads the same environment as any run (CDR_WAREHOUSE_URL, each provider's variables) and exits
0 when the run succeeded, 1 with the failure messages on stderr when it failed.
"""
from __future__ import annotations

import sys

from tests.dagster_runs import failure_messages, run_range


def main(argv: list[str]) -> int:
    providers, first, last = argv
    result = run_range(providers.split(","), first, last)
    if result.success:
        return 0
    for message in failure_messages(result):
        print(message, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
