"""README's "Querying from a BI tool": each example query between its markers runs as a login
holding cdr_bi_reader (nothing else) on a warehouse loaded through the simulators, and returns
rows; the masking example (there and in docs/mart.md) is what mart.mask_number makes of that
number."""
from __future__ import annotations

import re

import psycopg
import pytest

from pipelines.warehouse.mart import enrich_number
from tests.conftest import rows
from tests.mart.bi_access import load_through_simulators, login_name, login_role
from tests.test_accounts_file import ROOT

README = ROOT / "README.md"
QUERY = re.compile(r"<!-- bi-query: (?P<name>[a-z0-9-]+) -->\n```sql\n(?P<sql>.*?)```\n<!-- /bi-query -->",
                   re.DOTALL)


def readme_queries() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    found = {m["name"]: m["sql"] for m in QUERY.finditer(text)}
    # a marker the pattern missed (a typo, a missing fence) would drop its query from the test silently
    assert len(found) == text.count("<!-- bi-query: ") == text.count("<!-- /bi-query -->")
    return found


def test_the_readme_has_five_example_queries():
    assert list(readme_queries()) == ["kpis-per-account-and-date", "weekday-hour-heatmap", "top-destinations",
                                      "cost-per-minute", "data-quality-problems"]


@pytest.fixture(scope="module")
def reader(warehouse_url):
    load_through_simulators(warehouse_url)
    # A day whose figures do not add up, as when a record the provider counts never arrives: the
    # data-quality example has something to find (the simulators' own data reconciles).
    with psycopg.connect(warehouse_url) as conn:
        conn.execute("DELETE FROM cdr.fact_call_leg WHERE (provider, leg_key) IN"
                     " (SELECT provider, leg_key FROM cdr.fact_call_leg WHERE provider = 'tenios'"
                     " ORDER BY started_at LIMIT 1)")
    with login_role(warehouse_url, login_name("readme_bi_login"), "cdr_bi_reader") as url:
        yield url


@pytest.mark.parametrize("name", list(readme_queries()))
def test_each_readme_query_returns_rows_as_a_bi_reader(reader, name):
    with psycopg.connect(reader) as conn:
        assert conn.execute("SELECT current_user, mart.numbers_hidden()").fetchone() \
            == (login_name("readme_bi_login"), False)
        found = conn.execute(readme_queries()[name]).fetchall()
    assert found, name


@pytest.mark.parametrize("page", [README, ROOT / "docs" / "mart.md"], ids=["README", "mart.md"])
def test_the_masking_example_is_what_the_mart_does(warehouse_url, page):
    example = re.search(r"\(`(\+\d+)` as `([+\dx]+)`\)", page.read_text(encoding="utf-8"))
    assert example, f"{page.name}: the masking example"
    number, masked = example.groups()
    country_code = enrich_number(number).country_code
    assert rows(warehouse_url, "SELECT mart.mask_number(%s, %s::smallint)", (number, country_code)) \
        == [(masked,)]
