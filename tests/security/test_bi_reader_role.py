"""The BI roles (sql/migrations/012_mart.sql, 013_bi_masked_login.sql; docs/mart.md): a login
holding cdr_bi_reader reads every relation of schema `mart` and nothing of schema `cdr` (raw
bodies, quarantine, the legs themselves, bookkeeping), and writes nothing; a login holding
cdr_bi_masked reads the same relations with subscriber numbers masked ("+", the country code and
two more digits kept), service numbers, countries, types and every aggregate unmasked; a login
holding both is masked, also after SET ROLE. On a warehouse loaded through the simulators."""
from __future__ import annotations

import re

import psycopg
import pytest
from psycopg import sql

from pipelines.warehouse.connection import ensure_database, with_database
from pipelines.warehouse.migrate import migrate
from tests.conftest import TEST_DATABASE, all_warehouse_tables, rows
from tests.mart.bi_access import load_through_simulators, login_name, login_role

READER, MASKED, BOTH = "bi_login", "bi_masked_login", "bi_both_login"
GRANTS = {READER: ("cdr_bi_reader",), MASKED: ("cdr_bi_masked",), BOTH: ("cdr_bi_reader", "cdr_bi_masked")}


@pytest.fixture(scope="module")
def loaded(warehouse_url) -> str:
    return load_through_simulators(warehouse_url)


@pytest.fixture(scope="module")
def logins(warehouse_url):
    """{READER, MASKED, BOTH: the connection URL of a fresh login role holding those BI roles}."""
    with login_role(warehouse_url, login_name(READER), *GRANTS[READER]) as reader, \
            login_role(warehouse_url, login_name(MASKED), *GRANTS[MASKED]) as masked, \
            login_role(warehouse_url, login_name(BOTH), *GRANTS[BOTH]) as both:
        yield {READER: reader, MASKED: masked, BOTH: both}


def mart_relations(url: str) -> list[str]:
    return [name for (name,) in rows(
        url, "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c"
             " JOIN pg_namespace n ON n.oid = c.relnamespace"
             " WHERE n.nspname = 'mart' AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1")]


def cdr_relations(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        views = [name for (name,) in conn.execute(
            "SELECT format('%I.%I', schemaname, viewname) FROM pg_views WHERE schemaname = 'cdr'")]
        return [t for t in all_warehouse_tables(conn) if t.startswith("cdr.")] + views


def everything(url: str, relation: str) -> list[tuple]:
    """Every row of `relation` read at `url`, in a fixed order."""
    with psycopg.connect(url) as conn:
        cursor = conn.execute(f"SELECT * FROM {relation}")
        return sorted(cursor.fetchall(), key=repr)


def test_the_migrations_are_idempotent_across_databases_of_one_cluster(warehouse_url):
    # the BI roles are cluster-wide and already exist (this database's migration made them, or
    # another's): a second database of the same cluster migrates without an error
    second = f"{TEST_DATABASE}_second"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(second)))
    try:
        url = ensure_database(with_database(warehouse_url, "postgres"), second)
        assert "012_mart" in migrate(url)
        assert migrate(warehouse_url) == []
        assert rows(url, "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'cdr\\_bi\\_%'"
                         " ORDER BY 1") == [("cdr_bi_masked", False), ("cdr_bi_reader", False)]
        # and there too, the reader holds nothing in schema cdr
        assert rows(url, "SELECT has_schema_privilege('cdr_bi_reader', 'cdr', 'USAGE'),"
                         " has_schema_privilege('cdr_bi_reader', 'mart', 'USAGE')") == [(False, True)]
    finally:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(second)))


@pytest.mark.parametrize("who", [READER, MASKED, BOTH])
def test_a_bi_login_reads_every_mart_relation(loaded, logins, who):
    relations = mart_relations(loaded)
    assert {"mart.calls", "mart.call_legs", "mart.dim_number", "mart.kpi_daily", "mart.kpi_hourly",
            "mart.dim_account", "mart.dim_date", "mart.heatmap_weekday_hour", "mart.kpi_employee_daily",
            "mart.data_quality_daily"} <= set(relations)
    with psycopg.connect(logins[who]) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (login_name(who),)
        for relation in relations:
            (count,) = conn.execute(f"SELECT count(*) FROM {relation}").fetchone() or (0,)
            # the same rows the owner sees, and a loaded warehouse has some in every one
            assert count == len(everything(loaded, relation)) > 0, relation


def test_a_bi_login_reads_mart_tables_created_after_the_migration(loaded, logins):
    with psycopg.connect(loaded, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS mart.bi_later_table")
        conn.execute("CREATE TABLE mart.bi_later_table AS SELECT 1 AS x")
    try:
        for url in logins.values():
            with psycopg.connect(url) as conn:
                assert conn.execute("SELECT x FROM mart.bi_later_table").fetchall() == [(1,)]
    finally:
        with psycopg.connect(loaded, autocommit=True) as conn:
            conn.execute("DROP TABLE mart.bi_later_table")


def test_no_bi_login_reads_anything_of_schema_cdr(loaded, logins):
    relations = cdr_relations(loaded)
    assert {"cdr.raw_response", "cdr.quarantine", "cdr.fact_call_leg", "cdr.fact_call", "cdr.load_audit",
            "cdr.window_fetch", "cdr.window_load", "cdr.stale_day", "cdr.number_enrichment",
            "cdr.v_daily_activity"} <= set(relations)
    read = []
    for who, url in logins.items():
        for relation in relations:
            with psycopg.connect(url) as conn:
                try:
                    conn.execute(f"SELECT 1 FROM {relation} LIMIT 1")
                    read.append((who, relation))
                except psycopg.errors.InsufficientPrivilege:
                    pass
    assert read == []


WRITES = [
    "INSERT INTO mart.dim_account (provider, account, account_name, time_zone) VALUES ('x', 'x', 'x', 'UTC')",
    "UPDATE mart.kpi_daily SET calls = 0",
    "DELETE FROM mart.dim_date",
    "TRUNCATE mart.kpi_hourly",
    "CREATE TABLE mart.bi_was_here (x int)",
    "CREATE VIEW mart.bi_view AS SELECT 1",
    "CREATE FUNCTION mart.bi_function() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE TABLE public.bi_was_here (x int)",
    "ALTER TABLE mart.kpi_daily ADD COLUMN bi int",
    "COMMENT ON TABLE mart.kpi_daily IS 'bi'",
    "DROP VIEW mart.calls",
    "CREATE OR REPLACE FUNCTION mart.numbers_hidden() RETURNS boolean LANGUAGE sql AS 'SELECT false'",
    ("INSERT INTO cdr.load_audit (provider, account, window_start, window_end, legs_parsed, inserted,"
     " updated, unchanged, quarantined, duplicates_in_window)"
     " VALUES ('x', 'x', now(), now(), 0, 0, 0, 0, 0, 0)"),
    "UPDATE cdr.fact_call_leg SET account = 'x'",
    "DELETE FROM cdr.quarantine",
    "SELECT cdr.ensure_call_leg_partitions('1999-01-01', '1999-01-01')",  # would create a partition
    "SET ROLE postgres",
]


@pytest.mark.parametrize("who", [READER, MASKED])
@pytest.mark.parametrize("statement", WRITES)
def test_a_bi_login_writes_nothing(logins, who, statement):
    with psycopg.connect(logins[who]) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


# --- masking ------------------------------------------------------------------------------------

MASKED_COLUMNS = {"mart.calls": ("caller_number", "destination_number"),
                  "mart.call_legs": ("caller_number", "destination_number"),
                  "mart.dim_number": ("number", "e164")}
KEYS = {"mart.calls": ("provider", "account", "call_key"),
        "mart.call_legs": ("provider", "account", "leg_key")}


def kept_digits(country_code: int | None) -> int:
    """How many digits a masked number may show (docs/mart.md): the country code's and two more."""
    return len(str(country_code)) + 2 if country_code is not None else 0


def documented_mask(number: str, country_code: int | None) -> str:
    """The rule as docs/mart.md states it: "+", the country code and two more digits kept, every
    later digit replaced by x; a number without a known country code keeps no digit."""
    keep = 1 + kept_digits(country_code) if country_code is not None and number.startswith(
        f"+{country_code}") else 0
    return number[:keep] + re.sub("[0-9]", "x", number[keep:])


def check_masked(original: str | None, masked: str | None, country_code: int | None) -> bool:
    """Assert `masked` is `original` masked and shows no more digits than the documented prefix;
    True if masking hid any digit."""
    if original is None:
        assert masked is None
        return False
    assert masked == documented_mask(original, country_code), (original, masked, country_code)
    assert len(re.findall("[0-9]", masked)) <= kept_digits(country_code), (original, masked)
    if country_code is not None and original.startswith(f"+{country_code}"):
        assert masked.startswith(f"+{country_code}")
    return masked != original


def keyed(url: str, relation: str) -> dict[tuple, dict]:
    """The rows of mart.calls or mart.call_legs read at `url`, by key, as {column: value}."""
    with psycopg.connect(url) as conn:
        cursor = conn.execute(f"SELECT * FROM {relation}")
        names = [column.name for column in cursor.description or ()]
        found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    by_key = {tuple(row[k] for k in KEYS[relation]): row for row in found}
    assert len(by_key) == len(found)
    return by_key


@pytest.mark.parametrize("relation", ["mart.calls", "mart.call_legs"])
def test_masked_logins_see_subscriber_numbers_masked_and_everything_else_as_it_is(loaded, logins, relation):
    country_code = dict(rows(loaded, "SELECT number, country_code FROM cdr.number_enrichment"))
    plain = keyed(logins[READER], relation)
    # the reader sees what the owner sees: the numbers as stored
    assert plain == keyed(loaded, relation)
    for who in (MASKED, BOTH):
        masked = keyed(logins[who], relation)
        assert masked.keys() == plain.keys()
        hidden = kept_country = 0
        for key, row in plain.items():
            seen = masked[key]
            for column in MASKED_COLUMNS[relation]:
                if row[column] is not None and row[column] == row["service_number"]:
                    assert seen[column] == row[column], (who, key, column)  # the company's own number
                    continue
                code = country_code.get(row[column])
                hidden += check_masked(row[column], seen[column], code)
                kept_country += code is not None and seen[column] != row[column]
            # countries, types, service numbers and every other column unmasked
            assert {c: v for c, v in seen.items() if c not in MASKED_COLUMNS[relation]} \
                == {c: v for c, v in row.items() if c not in MASKED_COLUMNS[relation]}, (who, key)
        # not vacuous: most numbers in the loaded data were masked, and with their country code kept
        assert hidden > len(plain) / 2 and kept_country > len(plain) / 2, (who, hidden, kept_country)


def test_masked_logins_see_the_number_dimension_masked(loaded, logins):
    stored = rows(loaded, "SELECT number, e164, country_code, country_iso, country_name, number_type, region"
                          " FROM cdr.number_enrichment")
    assert len(stored) > 100
    assert everything(logins[READER], "mart.dim_number") == sorted(
        [(n, e164, *rest) for n, e164, _, *rest in stored], key=repr)
    expected = []
    for number, e164, code, *rest in stored:
        masked_number, masked_e164 = documented_mask(number, code), e164 and documented_mask(e164, code)
        check_masked(number, masked_number, code)
        check_masked(e164, masked_e164, code)
        expected.append((masked_number, masked_e164, *rest))
    for who in (MASKED, BOTH):
        assert everything(logins[who], "mart.dim_number") == sorted(expected, key=repr), who


@pytest.mark.parametrize("relation", [
    "mart.kpi_daily", "mart.kpi_hourly", "mart.heatmap_weekday_hour", "mart.kpi_employee_daily",
    "mart.data_quality_daily", "mart.dim_account", "mart.dim_date"])
def test_aggregates_and_dimensions_are_not_masked(loaded, logins, relation):
    plain = everything(logins[READER], relation)
    assert plain == everything(loaded, relation) and plain
    assert everything(logins[MASKED], relation) == plain
    assert everything(logins[BOTH], relation) == plain


def test_a_login_holding_both_roles_stays_masked_after_set_role(loaded, logins):
    some_caller = ("SELECT caller_number FROM mart.calls WHERE caller_number IS DISTINCT FROM service_number"
                   " AND caller_number LIKE '+%' ORDER BY provider, account, call_key LIMIT 1")
    (masked,) = rows(logins[MASKED], some_caller)[0]
    assert "x" in masked
    with psycopg.connect(logins[BOTH]) as conn:
        for role in ("cdr_bi_reader", "cdr_bi_masked", "NONE"):
            conn.execute(f"SET ROLE {role}")
            assert conn.execute("SELECT mart.numbers_hidden()").fetchone() == (True,), role
            assert conn.execute(some_caller).fetchone() == (masked,), role
    for who, hidden in ((READER, False), (MASKED, True)):
        assert rows(logins[who], "SELECT mart.numbers_hidden()") == [(hidden,)], who
