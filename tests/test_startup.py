"""What a process pays before it does anything: every `cdr-etl` command and every Dagster code
location and run imports the package, so data only some of them need is imported when used."""
from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["pipelines.cli", "pipelines.definitions"])
def test_the_geocoder_data_is_imported_when_a_number_is_enriched_not_before(module):
    # phonenumbers' geodata takes a third of a second to import (`python -X importtime`)
    probe = (f"import sys, {module}; from pipelines.warehouse.mart import enrich_number;"
             " before = 'phonenumbers.geodata' in sys.modules; row = enrich_number('+493012345678');"
             " print(before, 'phonenumbers.geodata' in sys.modules, row.region)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          timeout=120)
    assert done.stdout.split() == ["False", "True", "Berlin"]
