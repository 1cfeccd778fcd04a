"""The local environment `make demo`, `make ui` and the tests share: where Dagster keeps its
instance, and the variables that point Dagster at the embedded PostgreSQL."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from pipelines.errors import ConfigurationError
from pipelines.warehouse.connection import PROJECT_ROOT, check_reachable, ensure_database, start_embedded

DAGSTER_DATABASE = "dagster"
# The code location, named `cdr_warehouse` there: what `make ui` serves and the demo launches
# its run in, so the UI finds the demo's runs' code location by that name.
WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"


def ui_services(port: int, host: str = "127.0.0.1") -> dict[str, list[str]]:
    """The commands of the Dagster UI: the webserver, and the daemon that runs what the UI
    queues (launches, re-executions, backfills) and the schedule. The two services `dagster dev`
    starts, run as in production (docker-compose.yml): `dagster dev` is superseded in Dagster
    1.13, and warns so, and warns of a dagster.yaml in the working folder that is in fact used
    (DAGSTER_HOME links to it)."""
    bin_dir = Path(sys.executable).parent
    workspace = ["-w", str(WORKSPACE_FILE)]
    return {"dagster-webserver": [str(bin_dir / "dagster-webserver"), "-h", host, "-p", str(port),
                                  *workspace],
            "dagster-daemon": [str(bin_dir / "dagster-daemon"), "run", *workspace]}


def prepare_dagster_home() -> Path:
    """DAGSTER_HOME (default .dagster_home/, git-ignored) holding a link to the repo's dagster.yaml."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home")))
    try:
        home.mkdir(parents=True, exist_ok=True)
        config = home / "dagster.yaml"
        if not config.exists():
            config.symlink_to(PROJECT_ROOT / "dagster.yaml")
    except OSError as exc:
        raise ConfigurationError("DAGSTER_HOME", str(home), f"cannot use it as Dagster's folder"
                                 f" ({exc.strerror or exc}); name a folder that can be created or written,"
                                 " or unset it for .dagster_home/") from None
    if os.environ.get("DAGSTER_PG_URL"):
        # Dagster's own storage (dagster.yaml): unreachable, it fails deep in the run's set-up
        check_reachable(os.environ["DAGSTER_PG_URL"], "DAGSTER_PG_URL")
    else:
        server = os.environ.get("CDR_WAREHOUSE_URL") or start_embedded()
        os.environ["DAGSTER_PG_URL"] = ensure_database(server, DAGSTER_DATABASE)
    return home
