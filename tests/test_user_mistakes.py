"""Every mistake a user can make gets one clear line, not a traceback (issue 20).

Each case runs `cdr-etl` in a fresh process, as a user would, with only the environment it
gives, and checks what the user sees: the exit status; `error: ...` in one or two lines naming
the setting or argument (with its value where that is not a secret) and what would be valid; no
traceback; no secret anywhere in the output. The table covers each environment variable, each
command-line argument and each accounts-file key; `make demo` and `make ui` run `cdr-etl demo`
and `cdr-etl ui`. Every case stops before anything is fetched or loaded, so the table runs in
seconds: a server that is down is a closed loopback port.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import pipelines
from pipelines.warehouse.connection import start_embedded
from tests.conftest import TEST_DATABASE
from tests.providers_under_test import providers_under_test

ROOT = Path(pipelines.__file__).resolve().parents[1]
SPECS = providers_under_test()

# Secrets the user has in the environment or wrote where they should not: none may be printed.
ACCESS_KEY = "tenios-key-7f3a9c1e5b"
MIXVOIP_PASSWORD = "mixvoip-pw-4d2b8e6a0c"
DB_PASSWORD = "db-pw-9e1c7a5f3b"
LITERAL = "sk-LITERAL-9f8e7d6c5b4a"
SECRETS = (ACCESS_KEY, MIXVOIP_PASSWORD, DB_PASSWORD, LITERAL)
SECRET_ENVIRONMENT = {"TENIOS_ACCESS_KEY": ACCESS_KEY, "MIXVOIP_USERNAME": "reseller",
                      "MIXVOIP_PASSWORD": MIXVOIP_PASSWORD}

TENIOS = ('[[accounts]]\nprovider = "tenios"\nname = "a"\n'
          '[accounts.credentials]\naccess_key = { env = "TENIOS_ACCESS_KEY" }\n')


@dataclass(frozen=True)
class Mistake:
    """`cdr-etl ARGS` with `env`; "{closed}" (a loopback port nothing listens on), "{embedded}"
    (the embedded server's socket folder) and "{tmp}" (the working folder) are filled in."""

    args: tuple[str, ...]
    named: str  # the setting or argument as the message names it, with its value where shown
    valid: str  # what would be valid, or what to try
    env: dict[str, str] = field(default_factory=dict)
    accounts: str | None = None  # an accounts file, written to {tmp}/accounts.toml and named
    status: int = 1  # 2: refused by the argument parser


def case(*args: str, named: str, valid: str, id: str, **options) -> pytest.param:
    return pytest.param(Mistake(args, named, valid, **options), id=id)


def setting(variable: str, value: str, named: str, valid: str, *args: str) -> pytest.param:
    """A bad environment variable, met by `cdr-etl accounts check` (or `args`)."""
    return case(*(args or ("accounts", "check")), env={variable: value}, named=named, valid=valid,
                id=variable)


def account_key(text: str, named: str, valid: str, id: str) -> pytest.param:
    return case("accounts", "check", accounts=text, named=named, valid=valid, id=f"accounts-file-{id}")


DOWN = "postgresql://etl:" + DB_PASSWORD + "@127.0.0.1:{closed}/cdr"

MISTAKES = [
    # --- the six of the issue ------------------------------------------------------------------
    case("demo", "--days", "1", env={"CDR_WAREHOUSE_URL": DOWN}, id="issue-server-down-demo",
         named="CDR_WAREHOUSE_URL=postgresql://etl:***@127.0.0.1:{closed}/cdr",
         valid="cannot connect to the server at 127.0.0.1:{closed}"),
    case("db", "migrate", env={"CDR_WAREHOUSE_URL": "notaurl"}, id="issue-url-not-a-url",
         named="CDR_WAREHOUSE_URL='notaurl'", valid="postgresql://USER:PASSWORD@HOST:PORT/DATABASE"),
    case("demo", env={"CDR_PROVIDERS": "tenios,foo"}, id="issue-unknown-provider-demo",
         named="CDR_PROVIDERS='tenios,foo'", valid="known: belfabriek, mixvoip, telecomx, tenios"),
    case("ui", env={"CDR_START_DATE": "garbage"}, id="issue-start-date-ui",
         named="CDR_START_DATE='garbage'", valid="YYYY-MM-DD"),
    case("parse", "--provider", "tenios", "/nonexistent", id="issue-parse-missing-file",
         named="FILE='/nonexistent'", valid="No such file or directory"),
    case("demo", "--days", "0", status=2, id="issue-demo-zero-days",
         named="argument --days", valid="a whole number of at least 1, got '0'"),

    # --- command-line arguments ------------------------------------------------------------------
    case("demo", "--days", "three", status=2, id="demo-days-not-a-number",
         named="argument --days", valid="a whole number of at least 1"),
    case("demo", "--accounts-per-provider", "0", status=2, id="demo-accounts-per-provider",
         named="argument --accounts-per-provider", valid="at least 1"),
    case("demo", "--dais", "2", status=2, id="demo-unknown-argument",
         named="unrecognized arguments: --dais", valid="cdr-etl --help"),
    case("ui", "--port", "70000", status=2, id="ui-port", named="argument --port", valid="from 1 to 65535"),
    case("simulate", "--legs-per-day", "-5", status=2, id="simulate-legs-per-day",
         named="argument --legs-per-day", valid="at least 0"),
    case("simulate", "--providers", "tenios,telcomx", id="simulate-providers",
         named="--providers='tenios,telcomx'", valid="did you mean 'telecomx'?"),
    case("parse", "--provider", "tenois", "-", id="parse-provider",
         named="--provider='tenois'", valid="did you mean 'tenios'?"),
    case("parse", "--provider", "tenios", "--params", "{oops", "-", id="parse-params-not-json",
         named="--params='{oops'", valid="expected an object"),
    case("parse", "--provider", "tenios", "--params", "[1, 2]", "-", id="parse-params-not-an-object",
         named="--params='[1, 2]'", valid="a JSON object"),
    case("parse", "--provider", "tenios", "{tmp}", id="parse-file-is-a-folder",
         named="FILE='{tmp}'", valid="Is a directory"),
    case("parse", "--provider", "tenios", "--account", "a b", "-", id="parse-account",
         named="--account='a b'", valid="letters, digits"),
    case("parse", "--provider", "tenios", status=2, id="parse-no-file",
         named="the following arguments are required: file", valid="cdr-etl parse --help"),
    case("db", "frobnicate", status=2, id="db-action",
         named="argument action: invalid choice: 'frobnicate'", valid="'migrate'"),
    case("accounts", "chek", status=2, id="accounts-action",
         named="argument action: invalid choice: 'chek'", valid="'check'"),
    case(status=2, id="no-command", named="the following arguments are required: command",
         valid="cdr-etl --help"),
    case("frobnicate", status=2, id="unknown-command",
         named="invalid choice: 'frobnicate'", valid="'demo'"),

    # --- the warehouse -----------------------------------------------------------------------------
    case("db", "migrate", env={"CDR_WAREHOUSE_URL": DOWN.replace("{closed}", "port")}, id="url-port",
         named="CDR_WAREHOUSE_URL='postgresql://etl:***@127.0.0.1:port/cdr'",
         valid="port 'port' is not a number from 1 to 65535"),
    case("db", "migrate", env={"CDR_WAREHOUSE_URL": "host=127.0.0.1 port={closed} password=" + DB_PASSWORD},
         id="warehouse-conninfo-down", named="CDR_WAREHOUSE_URL=host=127.0.0.1 port={closed} password=***",
         valid="or unset it to use the embedded server that `make demo` starts"),
    case("db", "migrate",
         env={"CDR_WAREHOUSE_URL": "postgresql://postgres@/no_such_database?host={embedded}"},
         id="warehouse-no-such-database", named="CDR_WAREHOUSE_URL",
         valid="has no database 'no_such_database'; create it or name an existing one"),
    case("db", "start",
         env={"CDR_WAREHOUSE_URL": "postgresql://nobody:" + DB_PASSWORD + "@/cdr?host={embedded}"},
         id="warehouse-wrong-login", named="CDR_WAREHOUSE_URL=postgresql://nobody:***@",
         valid="refused the login"),
    case("ui", env={"CDR_WAREHOUSE_URL": DOWN}, id="warehouse-down-ui", named="CDR_WAREHOUSE_URL",
         valid="is it running?"),
    setting("CDR_DATABASE", "my warehouse", "CDR_DATABASE='my warehouse'", "expected a database name",
            "db", "migrate"),
    case("db", "start", env={"CDR_PGDATA": "{tmp}/accounts.toml"}, accounts=TENIOS, id="CDR_PGDATA",
         named="CDR_PGDATA='{tmp}/accounts.toml'", valid="not a folder"),  # the file: written
    case("db", "start", env={"CDR_PGDATA": "{tmp}"}, accounts=TENIOS, id="CDR_PGDATA-other-files",
         named="CDR_PGDATA='{tmp}'", valid="not a PostgreSQL data folder (no PG_VERSION)"),
    case("db", "start", env={"CDR_PGDATA": "{tmp}/no/such/folder"}, id="CDR_PGDATA-no-parent",
         named="CDR_PGDATA='{tmp}/no/such/folder'", valid="its parent folder {tmp}/no/such does not exist"),
    case("ui", env={"DAGSTER_HOME": "{tmp}/accounts.toml"}, accounts=TENIOS, id="DAGSTER_HOME",
         named="DAGSTER_HOME='{tmp}/accounts.toml'", valid="cannot use it as Dagster's folder"),
    case("demo", env={"DAGSTER_PG_URL": DOWN, "DAGSTER_HOME": "{tmp}/dagster"}, id="DAGSTER_PG_URL",
         named="DAGSTER_PG_URL=postgresql://etl:***@127.0.0.1:{closed}/cdr", valid="is it running?"),

    # --- environment variables -----------------------------------------------------------------
    setting("CDR_PROVIDERS", "tenois", "CDR_PROVIDERS='tenois'", "did you mean 'tenios'?"),
    setting("CDR_START_DATE", "2024-13-01", "CDR_START_DATE='2024-13-01'", "YYYY-MM-DD", "demo"),
    setting("CDR_REPULL_DAYS", "0", "CDR_REPULL_DAYS='0'", "at least 1"),
    setting("CDR_FORCE_RELOAD", "please", "CDR_FORCE_RELOAD='please'", "1/true/yes/on"),
    setting("CDR_DEBUG", "maybe", "CDR_DEBUG='maybe'", "1/true/yes/on or 0/false/no/off"),
    setting("CDR_PROVIDER_MODULES", "no.such.module", "CDR_PROVIDER_MODULES='no.such.module'",
            "cannot load a provider SPEC"),
    setting("CDR_ACCOUNTS_FILE", "nowhere.toml", "CDR_ACCOUNTS_FILE='nowhere.toml'", "no such file"),
    setting("CDR_HTTP_TIMEOUT_S", "0", "CDR_HTTP_TIMEOUT_S='0.0'", "a number of seconds above 0"),
    setting("CDR_HTTP_MAX_ATTEMPTS", "0", "CDR_HTTP_MAX_ATTEMPTS='0'", "at least 1"),
    setting("CDR_HTTP_WINDOW_ATTEMPTS", "1.5", "CDR_HTTP_WINDOW_ATTEMPTS='1.5'", "a number (int)"),
    setting("CDR_HTTP_BACKOFF_BASE_S", "-1", "CDR_HTTP_BACKOFF_BASE_S='-1.0'", "0 or more"),
    setting("CDR_HTTP_BACKOFF_MAX_S", "0.1", "CDR_HTTP_BACKOFF_MAX_S='0.1'", "at least backoff_base_s (0.5)"),
    setting("TENIOS_MAX_ATTEMPTS", "none", "TENIOS_MAX_ATTEMPTS='none'", "a number (int)"),
    setting("TENIOS_PAGE_SIZE", "lots", "TENIOS_PAGE_SIZE='lots'", "a number (int)"),
    setting("TENIOS_BASE_URL", "api.tenios.com", "TENIOS_BASE_URL='api.tenios.com'",
            "an http:// or https:// URL"),
    setting("MIXVOIP_FORMAT", "xml", "MIXVOIP_FORMAT='xml'", "expected one of json, csv"),
    setting("MIXVOIP_TIMEZONE", "Mars/Olympus", "MIXVOIP_TIMEZONE='Mars/Olympus'", "IANA time zone"),
    setting("BELFABRIEK_DST_REPEATED_HOUR", "whenever", "BELFABRIEK_DST_REPEATED_HOUR='whenever'",
            "earlier, later"),
    setting("TELECOMX_GROUPING_INTERVAL", "fortnight", "TELECOMX_GROUPING_INTERVAL='FORTNIGHT'", "HOUR, DAY"),

    # --- the accounts file, each key -------------------------------------------------------------
    account_key("[[acounts]]\n", "accounts.toml: acounts", "did you mean 'accounts'?", "top-level"),
    account_key(TENIOS.replace('name = "a"\n', 'name = "a"\ncustmers = ["1"]\n'), "account #1: custmers",
                "did you mean 'customers'?", "unknown-key"),
    account_key(TENIOS.replace('"tenios"', '"tenois"'), "account #1: provider='tenois'",
                "did you mean 'tenios'?", "provider"),
    account_key(TENIOS.replace('"a"', '"a b"'), "tenios account #1: name='a b'", "letters, digits", "name"),
    account_key(TENIOS.replace('name = "a"\n', 'name = "a"\nenabled = "no"\n'), "enabled='no'",
                "true or false", "enabled"),
    account_key(TENIOS.replace('name = "a"\n', 'name = "a"\nstart_date = "01.02.2025"\n'),
                "start_date='01.02.2025'", "YYYY-MM-DD", "start_date"),
    account_key(TENIOS.replace('name = "a"\n', 'name = "a"\ntime_zone = "Europe/Berlln"\n'),
                "time_zone='Europe/Berlln'", "IANA time zone", "time_zone"),
    account_key(TENIOS.replace('name = "a"\n', 'name = "a"\ncustomers = ["1"]\n'),
                "tenios account 'a': customers", "leave `customers` out", "customers"),
    account_key(TENIOS.replace('{ env = "TENIOS_ACCESS_KEY" }', f'"{LITERAL}"'),
                "tenios account 'a': credentials.access_key", "a literal secret is refused",
                "credentials-literal"),
    account_key(TENIOS.replace("access_key =", "acess_key ="), "credentials.acess_key",
                "did you mean 'access_key'?", "credentials-name"),
    account_key(TENIOS + "[accounts.options]\npagesize = 5\n", "options.pagesize",
                "did you mean 'page_size'?", "options-name"),
    account_key(TENIOS + "[accounts.options]\ntimeout_s = 0\n", "options.timeout_s='0.0'", "above 0",
                "options-value"),
    account_key(TENIOS + f'[accounts.options]\naccess_key = "{LITERAL}"\n', "options.access_key",
                "a credential, not an option", "options-secret"),
    account_key('[[accounts]\nprovider = "tenios"\n', "accounts.toml", "not valid TOML", "not-toml"),
]


@pytest.fixture(scope="module")
def placeholders(tmp_path_factory) -> dict[str, str]:
    with socket.socket() as probe:  # a port the system just handed out and nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    embedded = start_embedded()  # the shared embedded server (running already in a test session)
    return {"closed": str(closed), "embedded": embedded.split("host=", 1)[1].split("&")[0]}


def cdr_etl(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`cdr-etl ARGS` in a fresh process with only `env` (and what finds the code and the server)."""
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT),
            # the embedded server's folder and a database of the tests' own, for the cases that
            # get as far as the warehouse
            **{k: os.environ[k] for k in ("CDR_PGDATA",) if k in os.environ},
            "CDR_DATABASE": TEST_DATABASE}
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, env={**base, **env})


def assert_one_clear_line(done: subprocess.CompletedProcess[str], status: int, *fragments: str) -> None:
    shown = done.stdout + done.stderr
    assert done.returncode == status, shown
    assert "Traceback" not in shown, shown
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2 and lines[-1].startswith("error: "), done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, f"{fragment!r} not in: {done.stderr}"
    assert not [secret for secret in SECRETS if secret in shown], shown


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_mistake_is_one_line_naming_the_setting_and_what_is_valid(mistake, placeholders, tmp_path):
    def filled(text: str) -> str:
        for name, value in {**placeholders, "tmp": str(tmp_path)}.items():
            text = text.replace("{" + name + "}", value)
        return text

    env = {**SECRET_ENVIRONMENT, **{k: filled(v) for k, v in mistake.env.items()}}
    if mistake.accounts is not None:
        (tmp_path / "accounts.toml").write_text(mistake.accounts, encoding="utf-8")
        env.setdefault("CDR_ACCOUNTS_FILE", str(tmp_path / "accounts.toml"))
    done = cdr_etl([filled(arg) for arg in mistake.args], env, tmp_path)
    assert_one_clear_line(done, mistake.status, filled(mistake.named), filled(mistake.valid))


def test_the_table_covers_every_issue_case_and_twenty_more():
    ids = [param.id for param in MISTAKES]
    assert len(set(ids)) == len(ids)
    assert sum(i.startswith("issue-") for i in ids) == 6 and len(ids) >= 6 + 20


def test_a_taken_simulator_port_is_one_line(tmp_path):
    port = SPECS["tenios"].default_sim_port
    with socket.socket() as taken:
        try:
            taken.bind(("127.0.0.1", port))
            taken.listen()
        except OSError:
            pass  # taken already (a `make ui` running): the same mistake
        done = cdr_etl(["simulate", "--providers", "tenios"], {}, tmp_path)
    assert_one_clear_line(done, 1, f"a simulator port is in use (tenios {port})", "--any-port")


MISSING_FILE = ["parse", "--provider", "tenios", "/nonexistent"]


@pytest.mark.parametrize(("args", "env"), [
    pytest.param(["--debug", *MISSING_FILE], {}, id="--debug-before-the-command"),
    pytest.param([*MISSING_FILE, "--debug"], {}, id="--debug-after-the-command"),
    pytest.param(MISSING_FILE, {"CDR_DEBUG": "1"}, id="CDR_DEBUG=1"),
])
def test_debug_shows_the_traceback_as_well(args, env, tmp_path):
    """What README.md says under "When something is wrong"."""
    done = cdr_etl(args, {**SECRET_ENVIRONMENT, **env}, tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback (most recent call last):"), done.stderr
    assert "ConfigurationError: FILE='/nonexistent': cannot read it" in done.stderr
    assert "`--debug`" in README_SECTION and "`CDR_DEBUG=1`" in README_SECTION


README = (ROOT / "README.md").read_text(encoding="utf-8")
README_SECTION = README[README.index("### When something is wrong"):README.index("### Your own PostgreSQL")]
# what makes each example line of that section, in order; "5432" there is a port nothing listens on
README_EXAMPLES = [
    (["accounts", "check"], {"MIXVOIP_FORMAT": "xml"}, None),
    (["accounts", "check"], {}, TENIOS.replace('name = "a"\n', 'name = "a"\ncustmers = ["1"]\n')),
    (["db", "migrate"], {"CDR_WAREHOUSE_URL": DOWN.replace("{closed}", "5432")}, None),
    (["demo", "--days", "0"], {}, None),
]


@pytest.mark.parametrize("index", range(len(README_EXAMPLES)))
def test_the_readme_examples_are_what_a_user_sees(index, placeholders, tmp_path):
    lines = [line for line in README_SECTION.split("```")[1].splitlines() if line]
    assert len(lines) == len(README_EXAMPLES)
    args, env, accounts = README_EXAMPLES[index]
    if accounts is not None:
        (tmp_path / "cdr-accounts.toml").write_text(accounts, encoding="utf-8")  # found in the working folder
    closed = placeholders["closed"]
    done = cdr_etl(args, {k: v.replace("5432", closed) for k, v in env.items()}, tmp_path)
    assert done.returncode in (1, 2)
    assert done.stderr.startswith(lines[index].removesuffix("...").replace("5432", closed)), done.stderr


def dagster_validate(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Load the code location as Dagster does (`dagster definitions validate`)."""
    return subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate",
                           "-m", "pipelines.definitions"], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT),
                                            "DAGSTER_HOME": str(cwd), **env})


def test_the_code_location_fails_to_load_with_the_same_line(tmp_path):
    (tmp_path / "dagster.yaml").write_text("")
    done = dagster_validate({"CDR_START_DATE": "garbage", **SECRET_ENVIRONMENT}, tmp_path)
    shown = done.stdout + done.stderr
    assert done.returncode != 0
    assert "ConfigurationError: CDR_START_DATE='garbage': expected a date as YYYY-MM-DD" in shown, shown
    # the stack Dagster shows is the one line that raised it; CDR_DEBUG=1 shows where it was found
    assert "config.py" not in shown and not [secret for secret in SECRETS if secret in shown]
    debug = dagster_validate({"CDR_START_DATE": "garbage", "CDR_DEBUG": "1"}, tmp_path)
    assert "pipelines/config.py" in debug.stdout + debug.stderr
