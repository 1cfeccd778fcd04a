"""The accounts file (docs/accounts.md): any number of accounts per provider, read once into the
Configuration; every mistake refused naming the file, the provider, the account and the field,
never a secret; `cdr-etl accounts check [--probe]` against real simulators over HTTP."""
from __future__ import annotations

import dataclasses
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import pipelines
from pipelines.config import Configuration
from pipelines.errors import ConfigurationError
from pipelines.providers.settings import HttpSettings
from pipelines.providers.tenios.settings import TeniosSettings
from pipelines.simulators import accounts_file, credential_variable, running_simulators
from tests.providers_under_test import providers_under_test

ROOT = Path(pipelines.__file__).resolve().parents[1]
SPECS = providers_under_test()

FOUR_PROVIDERS = """
[[accounts]]
provider = "tenios"
name = "acme"
start_date = 2023-06-01
[accounts.credentials]
access_key = { env = "T_KEY" }
[accounts.options]
page_size = 200

[[accounts]]
provider = "belfabriek"
name = "acme"
time_zone = "Europe/Brussels"
customers = ["100234"]
[accounts.credentials]
customer_hash = { env = "B_HASH" }
[accounts.options]
service_numbers = ["318001234567"]
requests_per_second = 2

[[accounts]]
provider = "mixvoip"
name = "reseller_lu.1"
customers = ["100201", 100202]
[accounts.credentials]
username = { env = "M_USER" }
password = { env = "M_PASS" }
[accounts.options]
base_url = "http://mixvoip.invalid"
format = "CSV"
timeout_s = 7

[[accounts]]
provider = "telecomx"
name = "dk-1"
start_date = "2025-02-01"
customers = ["c1", "c2"]
[accounts.credentials]
username = { env = "X_USER" }
password = { env = "X_PASS" }

[[accounts]]
provider = "telecomx"
name = "dk-2"
enabled = false
[accounts.credentials]
token = { env = "X_TOKEN" }
"""


def accounts(tmp_path: Path, text: str, name: str = "accounts.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_with_accounts_of_every_provider_builds_the_configuration(tmp_path):
    path = accounts(tmp_path, FOUR_PROVIDERS)
    config = Configuration.from_env({"CDR_ACCOUNTS_FILE": str(path), "CDR_HTTP_MAX_ATTEMPTS": "2",
                                     "CDR_START_DATE": "2024-01-01",
                                     # the quick start's variables are not read with a file
                                     "TENIOS_ACCOUNT": "other", "TENIOS_PAGE_SIZE": "9"})
    assert config.accounts_file == str(path)
    assert [(a.provider, a.account) for a in config.accounts] == [
        ("tenios", "acme"), ("belfabriek", "acme"), ("mixvoip", "reseller_lu.1"), ("telecomx", "dk-1")]
    assert [(a.provider, a.account, a.enabled) for a in config.disabled_accounts] \
        == [("telecomx", "dk-2", False)]
    # the partitions start at the earliest of CDR_START_DATE and the accounts' start dates
    assert config.start_date == "2023-06-01"

    tenios, belfabriek, mixvoip, telecomx = config.accounts
    # options through the provider's settings type; CDR_HTTP_* fills what the file does not set
    assert tenios.settings == TeniosSettings(account="acme", page_size=200, http=HttpSettings(max_attempts=2))
    assert (tenios.start_date, tenios.time_zone, tenios.customers) == ("2023-06-01", "Europe/Berlin", ())
    assert tenios.credential_variables == {"access_key": "T_KEY"}

    assert (belfabriek.settings.customer_id, belfabriek.customers) == ("100234", ("100234",))  # type: ignore[attr-defined]
    assert (belfabriek.time_zone, belfabriek.start_date) == ("Europe/Brussels", "2024-01-01")
    assert belfabriek.options_in_effect() == {"service_numbers": ("318001234567",),
                                              "requests_per_second": 2.0, "max_attempts": 2}

    assert mixvoip.customers == ("100201", "100202") == mixvoip.settings.profile_ids  # type: ignore[attr-defined]
    assert mixvoip.settings.format == "csv"  # type: ignore[attr-defined]
    assert mixvoip.settings.http == HttpSettings(timeout_s=7.0, max_attempts=2)
    assert mixvoip.credential_variables == {"username": "M_USER", "password": "M_PASS"}
    assert mixvoip.time_zone == "Europe/Luxembourg"

    assert (telecomx.customers, telecomx.start_date, telecomx.time_zone) \
        == (("c1", "c2"), "2025-02-01", "Europe/Copenhagen")
    assert telecomx.credential_variables == {"username": "X_USER", "password": "X_PASS"}
    assert not telecomx.credentials_resolve({"X_USER": "someone"})
    assert telecomx.credentials_resolve({"X_USER": "someone", "X_PASS": "pw"})

    assert config.account("tenios") is tenios and config.accounts_of("telecomx") == (telecomx,)
    assert config.account_named("belfabriek", "acme") is belfabriek
    # CDR_PROVIDERS still picks the providers that load
    only = Configuration.from_env({"CDR_ACCOUNTS_FILE": str(path), "CDR_PROVIDERS": "mixvoip"})
    assert [a.provider for a in only.accounts] == ["mixvoip"]


def test_several_accounts_of_one_provider(tmp_path):
    entry = ('[[accounts]]\nprovider = "tenios"\nname = "{}"\n'
             '[accounts.credentials]\naccess_key = {{ env = "K{}" }}\n')
    path = accounts(tmp_path, "\n".join(entry.format(name, n) for n, name in enumerate(("a", "b", "c"))))
    config = Configuration.from_env({"CDR_ACCOUNTS_FILE": str(path)})
    assert [a.account for a in config.accounts_of("tenios")] == ["a", "b", "c"]
    assert [a.credential_variables["access_key"] for a in config.accounts] == ["K0", "K1", "K2"]
    with pytest.raises(ConfigurationError, match="tenios has 3 accounts"):
        config.account("tenios")


def test_the_example_file_is_a_valid_accounts_file():
    config = Configuration.from_env({"CDR_ACCOUNTS_FILE": str(ROOT / "cdr-accounts.example.toml")})
    assert sorted((a.provider, a.account) for a in config.accounts) == [
        ("belfabriek", "acme-nl"), ("mixvoip", "reseller-lu"), ("telecomx", "reseller-dk"),
        ("tenios", "acme-de")]
    assert [a.account for a in config.disabled_accounts] == ["acme-at"]


def test_without_a_file_the_environment_quick_start_is_used(tmp_path):
    config = Configuration.from_env({"CDR_PROVIDERS": "tenios", "TENIOS_ACCOUNT": "solo"})
    assert config.accounts_file is None
    assert [(a.provider, a.account, a.time_zone) for a in config.accounts] \
        == [("tenios", "solo", "Europe/Berlin")]
    assert config.accounts[0].credential_variables == {"access_key": "TENIOS_ACCESS_KEY"}


TENIOS = '[[accounts]]\nprovider = "tenios"\nname = "a"\n'
KEY = '[accounts.credentials]\naccess_key = { env = "T_KEY" }\n'
BELFABRIEK = ('[[accounts]]\nprovider = "belfabriek"\nname = "b"\n'
              '[accounts.credentials]\ncustomer_hash = { env = "B" }\n')
MIXVOIP = ('[[accounts]]\nprovider = "mixvoip"\nname = "m"\n'
           '[accounts.credentials]\nusername = { env = "U" }\npassword = { env = "P" }\n')
LITERAL = "sk-LITERAL-9f8e7d6c5b4a"


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param(TENIOS + f'[accounts.credentials]\naccess_key = "{LITERAL}"\n',
                 ["tenios account 'a': credentials.access_key", "a literal secret is refused"],
                 id="literal-secret"),
    pytest.param(TENIOS + f'[accounts.credentials]\naccess_key = {{ env = "{LITERAL}" }}\n',
                 ["tenios account 'a': credentials.access_key", 'expected { env = "VARIABLE" }'],
                 id="secret-as-variable-name"),
    pytest.param(TENIOS + KEY + f'[accounts.options]\naccess_key = "{LITERAL}"\n',
                 ["tenios account 'a': options.access_key", "a credential, not an option"],
                 id="credential-in-options"),
    pytest.param('[[accounts]]\nprovider = "sipgate"\nname = "a"\n' + KEY,
                 ["account #1: provider='sipgate'", "unknown provider; known: belfabriek"],
                 id="unknown-provider"),
    pytest.param(TENIOS + KEY + TENIOS + KEY, ["tenios account 'a': name", "unique per provider"],
                 id="duplicate-name"),
    pytest.param('[[accounts]]\nprovider = "tenios"\nname = "acme de"\n' + KEY,
                 ["tenios account #1: name='acme de'", "letters, digits"], id="bad-name"),
    pytest.param(TENIOS + 'customers = ["1"]\n' + KEY, ["tenios account 'a': customers", "no customers"],
                 id="customers-on-tenios"),
    pytest.param(BELFABRIEK.replace('name = "b"\n', 'name = "b"\ncustomers = ["1", "2"]\n'),
                 ["belfabriek account 'b': customers", "exactly one customer (customer_id), got 2"],
                 id="two-belfabriek-customers"),
    pytest.param(BELFABRIEK, ["belfabriek account 'b': customers", "exactly one customer"],
                 id="no-belfabriek-customer"),
    pytest.param(TENIOS + KEY + "[accounts.options]\npagesize = 5\n",
                 ["tenios account 'a': options.pagesize", "unknown setting; did you mean 'page_size'?"],
                 id="unknown-option"),
    pytest.param(MIXVOIP + '[accounts.options]\nformat = "xml"\n',
                 ["mixvoip account 'm': options.format='xml'", "expected one of json, csv"],
                 id="bad-option-value"),
    pytest.param(MIXVOIP + '[accounts.options]\nprofile_ids = ["1"]\n',
                 ["mixvoip account 'm': options.profile_ids", "set by `customers`"],
                 id="customers-in-options"),
    pytest.param(TENIOS + KEY + '[accounts.options]\naccount = "other"\n',
                 ["tenios account 'a': options.account", "named by `name`"], id="account-in-options"),
    pytest.param(TENIOS + 'time_zone = "Mars/Olympus"\n' + KEY,
                 ["tenios account 'a': time_zone='Mars/Olympus'", "IANA time zone"], id="bad-time-zone"),
    pytest.param(TENIOS + 'start_date = "01.02.2025"\n' + KEY,
                 ["tenios account 'a': start_date='01.02.2025'", "YYYY-MM-DD"], id="bad-start-date"),
    pytest.param('[[accounts]]\nprovider = "telecomx"\nname = "x"\n'
                 '[accounts.credentials]\nusername = { env = "U" }\n',
                 ["telecomx account 'x': credentials", "incomplete: expected token or username + password"],
                 id="incomplete-credentials"),
    pytest.param(TENIOS, ["tenios account 'a': credentials", "required"], id="no-credentials"),
    pytest.param(TENIOS + 'enabled = "no"\n' + KEY, ["tenios account 'a': enabled='no'", "true or false"],
                 id="enabled-not-a-boolean"),
    pytest.param(TENIOS + 'custmers = ["1"]\n' + KEY,
                 ["account #1: custmers", "unknown key; did you mean 'customers'?"],
                 id="unknown-key"),
    pytest.param('[[accounts]\nprovider = "tenios"\n', ["not valid TOML"], id="not-toml"),
    pytest.param("# nothing yet\n", ["accounts", "one or more [[accounts]]"], id="no-accounts"),
])
def test_a_bad_accounts_file_is_refused_naming_file_provider_account_and_field(tmp_path, text, expected):
    path = accounts(tmp_path, text)
    with pytest.raises(ConfigurationError) as caught:
        Configuration.from_env({"CDR_ACCOUNTS_FILE": str(path)})
    message = str(caught.value)
    assert message.startswith(str(path)), message
    for fragment in expected:
        assert fragment in message, message
    assert LITERAL not in message  # a secret written into the file is never echoed


def with_keys(template: str, *lines: str) -> str:
    """`template` (one account) with `lines` added after its name, before its tables."""
    name = re.search(r'name = "[^"]*"\n', template)
    assert name
    return template[:name.end()] + "".join(line + "\n" for line in lines) + template[name.end():]


def test_the_mart_settings_are_read_with_their_defaults(tmp_path):
    path = accounts(tmp_path, with_keys(
        MIXVOIP, 'display_name = "  Reseller LU "', 'customers = ["100201"]',
        'customer_names = { "100201" = " Bakery ", 100202 = "Garage" }', 'holiday_country = "DE"',
        "peak_hours = [7, 19]") + '[accounts.options]\nbase_url = "http://mixvoip.invalid"\n'
        + with_keys(TENIOS + KEY, 'time_zone = "Europe/Amsterdam"')
        + with_keys(TENIOS.replace('"a"', '"vienna"') + KEY, 'time_zone = "Europe/Vienna"',
                    "peak_hours = [0, 24]"))
    mixvoip, amsterdam, vienna = Configuration.from_env({"CDR_ACCOUNTS_FILE": str(path)}).accounts
    assert (mixvoip.display_name, mixvoip.customer_names, mixvoip.holiday_country, mixvoip.peak_hours) \
        == ("Reseller LU", (("100201", "Bakery"), ("100202", "Garage")), "DE", (7, 19))
    # unset: the account's own name in the mart, no customer names, the holidays of the reporting
    # zone's country where it is one of the four, peak from 8 to 18
    assert (amsterdam.display_name, amsterdam.customer_names, amsterdam.holiday_country,
            amsterdam.peak_hours) == ("", (), "NL", (8, 18))
    assert (vienna.holiday_country, vienna.peak_hours) == (None, (0, 24))


PEAK = "expected [start, end]: local hours 0 to 24, start before end, e.g. [8, 18]"
NAMES = 'expected a table of customer id = "name", e.g. { "100201" = "Bakery" }'


@pytest.mark.parametrize(("line", "field", "reason"), [
    ('display_name = ""', "display_name=''", "expected a non-empty string"),
    ('display_name = "   "', "display_name='   '", "expected a non-empty string"),
    ("display_name = 5", "display_name='5'", "expected a non-empty string"),
    ('customer_names = ["Bakery"]', "customer_names", NAMES),
    ('customer_names = { "100201" = "" }', "customer_names", NAMES),
    ('customer_names = { "100201" = 7 }', "customer_names", NAMES),
    ('holiday_country = "FR"', "holiday_country='FR'", "expected one of NL, LU, DE, DK"),
    ('holiday_country = "nl"', "holiday_country='nl'", "expected one of NL, LU, DE, DK"),
    ("peak_hours = [18, 8]", "peak_hours='[18, 8]'", PEAK),
    ("peak_hours = [8, 8]", "peak_hours='[8, 8]'", PEAK),
    ("peak_hours = [8]", "peak_hours='[8]'", PEAK),
    ("peak_hours = [8, 25]", "peak_hours='[8, 25]'", PEAK),
    ("peak_hours = [-1, 18]", "peak_hours='[-1, 18]'", PEAK),
    ("peak_hours = [8.5, 18]", "peak_hours='[8.5, 18]'", PEAK),
    ("peak_hours = [true, 18]", "peak_hours='[True, 18]'", PEAK),
    ('peak_hours = "8-18"', "peak_hours='8-18'", PEAK),
])
def test_a_bad_mart_setting_is_refused_naming_the_key(tmp_path, line, field, reason):
    path = accounts(tmp_path, with_keys(MIXVOIP, line))
    with pytest.raises(ConfigurationError) as caught:
        Configuration.from_env({"CDR_ACCOUNTS_FILE": str(path)})
    assert str(caught.value) == f"{path}: mixvoip account 'm': {field}: {reason}"


def test_a_missing_file_named_by_cdr_accounts_file_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match=r"CDR_ACCOUNTS_FILE='.*nowhere\.toml': no such file"):
        Configuration.from_env({"CDR_ACCOUNTS_FILE": str(tmp_path / "nowhere.toml")})


# --- cdr-etl accounts check, as a user runs it ------------------------------------------------

def cdr_etl(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`cdr-etl ARGS` in a fresh process, with only `env` (and PATH) in its environment."""
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120,
                          env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env})


def table(stdout: str, section: str) -> dict[tuple[str, str], list[str]]:
    """The rows of the table under the line starting with `section` ("accounts:", "probe:"), by
    (provider, account), each split into its cells (columns are two or more spaces apart)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(section)) + 1
    assert lines[start].split()[:2] == ["provider", "account"], lines[start]
    rows = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        cells = [cell.strip() for cell in line.split("  ") if cell.strip()]
        rows[(cells[0], cells[1])] = cells
    return rows


HASH = "0123456789abcdef0123456789abcdef"
SECRETS = {"T_KEY": "tenios-secret-1", "B_HASH": HASH, "M_USER": "reseller", "M_PASS": "mix-secret-2",
           "X_USER": "employee", "X_PASS": "telecomx-secret-3"}


def test_check_prints_every_account_and_exits_0_when_all_resolve(tmp_path):
    accounts(tmp_path, FOUR_PROVIDERS, "cdr-accounts.toml")  # found in the working directory
    done = cdr_etl("accounts", "check", cwd=tmp_path, env=SECRETS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("accounts: cdr-accounts.toml\n")
    rows = table(done.stdout, "accounts:")
    assert rows[("tenios", "acme")] == ["tenios", "acme", "yes", "Europe/Berlin", "2023-06-01", "-",
                                        "access_key resolved", "page_size=200"]
    assert rows[("belfabriek", "acme")][2:] == ["yes", "Europe/Brussels", "2024-01-01", "100234",
                                                "customer_hash resolved",
                                                "service_numbers=318001234567; requests_per_second=2.0"]
    assert rows[("mixvoip", "reseller_lu.1")][5:] == [
        "100201,100202", "username resolved, password resolved",
        "base_url=http://mixvoip.invalid; timeout_s=7.0; format=csv"]
    assert rows[("telecomx", "dk-1")][5:7] == ["c1,c2", "username resolved, password resolved"]
    assert rows[("telecomx", "dk-2")][2] == "no"
    assert rows[("telecomx", "dk-2")][6] == "token missing X_TOKEN"  # disabled: not a problem
    assert not any(secret in done.stdout + done.stderr for secret in SECRETS.values() if len(secret) > 8)


def test_check_exits_1_naming_the_account_and_variable_of_a_missing_credential(tmp_path):
    accounts(tmp_path, FOUR_PROVIDERS, "mine.toml")
    env = {**{k: v for k, v in SECRETS.items() if k != "M_PASS"}, "CDR_ACCOUNTS_FILE": "mine.toml"}
    done = cdr_etl("accounts", "check", cwd=tmp_path, env=env)  # a relative path: from the working dir
    assert done.returncode == 1
    assert table(done.stdout, "accounts:")[("mixvoip", "reseller_lu.1")][6] \
        == "username resolved, password missing M_PASS"
    assert done.stderr == "error: mine.toml: mixvoip account 'reseller_lu.1': credentials: not set: M_PASS\n"


def test_check_exits_1_on_settings_the_client_refuses(tmp_path):
    # Belfabriek's hash has a documented shape: checked when the client opens, before any request
    path = accounts(tmp_path, FOUR_PROVIDERS)
    done = cdr_etl("accounts", "check", cwd=tmp_path,
                   env={**SECRETS, "B_HASH": "too-short", "CDR_ACCOUNTS_FILE": str(path)})
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {path}: belfabriek account 'acme': belfabriek: the customer hash"
                                  " is not the documented 32 letters and digits")
    assert "too-short" not in done.stdout + done.stderr


def test_check_refuses_a_bad_file_with_one_error_line_and_no_secret(tmp_path):
    path = accounts(tmp_path, TENIOS + f'[accounts.credentials]\naccess_key = "{LITERAL}"\n')
    done = cdr_etl("accounts", "check", cwd=tmp_path, env={"CDR_ACCOUNTS_FILE": str(path)})
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"error: {path}: tenios account 'a': credentials.access_key:"
                                  " a literal secret is refused")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr and LITERAL not in done.stderr
    missing = cdr_etl("accounts", "check", cwd=tmp_path, env={"CDR_ACCOUNTS_FILE": "nowhere.toml"})
    assert (missing.returncode, missing.stderr) \
        == (1, "error: CDR_ACCOUNTS_FILE='nowhere.toml': no such file\n")


def test_check_shows_the_quick_start_without_a_file(tmp_path):
    done = cdr_etl("accounts", "check", cwd=tmp_path,
                   env={"CDR_PROVIDERS": "tenios", "TENIOS_ACCESS_KEY": "k", "TENIOS_ACCOUNT": "solo"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("accounts: the environment quick start (no accounts file)\n")
    assert table(done.stdout, "accounts:")[("tenios", "solo")][6] == "access_key resolved"


# --- --probe, over HTTP to the simulators --------------------------------------------------------

# the error code each built-in simulator answers wrong credentials with (a plug-in's may give none)
REFUSAL_CODES = {"tenios": "BAD_CREDENTIALS", "belfabriek": "1", "mixvoip": "401",
                 "telecomx": "credentials_invalid"}


@pytest.fixture(scope="module")
def simulated():
    """Every provider's simulator, two accounts each: (accounts file text, its environment, accounts)."""
    with running_simulators(sorted(SPECS), accounts_per_provider=2) as running:
        text, environment = accounts_file(running.accounts)
        yield text, environment, running.accounts


def probe(tmp_path: Path, text: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = accounts(tmp_path, text)
    return cdr_etl("accounts", "check", "--probe", cwd=tmp_path,
                   env={**environment, "CDR_ACCOUNTS_FILE": str(path)})


def test_probe_reports_ok_for_every_account_with_right_credentials(tmp_path, simulated):
    text, environment, served = simulated
    done = probe(tmp_path, text, environment)
    assert done.returncode == 0, done.stdout + done.stderr
    results = table(done.stdout, "probe:")
    assert {key: row[2] for key, row in results.items()} \
        == {(provider, account.name): "ok" for provider, listed in served.items() for account in listed}
    assert not any(secret in done.stdout + done.stderr for secret in environment.values())


def test_probe_reports_refused_with_the_providers_code_for_wrong_credentials(tmp_path, simulated):
    text, environment, served = simulated
    wrong = dict(environment)
    for provider in served:
        login = SPECS[provider].conformance.logins[0]  # type: ignore[union-attr]
        for credential, value in login.wrong.items():
            wrong[credential_variable("DEMO", provider, 1, credential)] = value  # the first account's
    done = probe(tmp_path, text, wrong)
    assert done.returncode == 1
    results = table(done.stdout, "probe:")
    for provider, listed in served.items():
        first, second = (results[(provider, account.name)] for account in listed)
        assert first[2:4] == ["refused", REFUSAL_CODES.get(provider, first[3])], first
        assert second[2] == "ok", second  # the other account of that provider is unaffected
        assert f"error: {tmp_path / 'accounts.toml'}: {provider} account {listed[0].name!r}: probe refused" \
            in done.stderr
    assert not any(secret in done.stdout + done.stderr for secret in wrong.values())


def test_probe_reports_unreachable_for_a_closed_port(tmp_path, simulated):
    _, environment, served = simulated
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    moved = {provider: tuple(dataclasses.replace(account, options={**account.options, "base_url": closed})
                             for account in listed)
             for provider, listed in served.items()}
    text, environment = accounts_file(moved)
    done = probe(tmp_path, text, environment)
    assert done.returncode == 1
    results = table(done.stdout, "probe:")
    assert {row[2] for row in results.values()} == {"unreachable"}
    assert len(results) == sum(len(listed) for listed in served.values())


def probe_readings(stdout: str) -> dict[tuple[str, str], dict[str, str]]:
    """The "readings:" table as {(provider, account): {reading: observed}}."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("readings:")) + 2
    out: dict[tuple[str, str], dict[str, str]] = {}
    for line in lines[start:]:
        if not line.strip():
            break
        provider, account, reading, observed = re.split(r"\s{2,}", line.strip(), maxsplit=3)
        out.setdefault((provider, account), {})[reading] = observed
    return out


def test_probe_reports_what_an_answer_shows_of_mixvoip_and_telecomx_readings(tmp_path, simulated):
    text, environment, served = simulated
    done = probe(tmp_path, text, environment)
    assert done.returncode == 0, done.stdout + done.stderr
    seen = probe_readings(done.stdout)
    for account in served.get("mixvoip", ()):
        observed = seen[("mixvoip", account.name)]
        assert observed["format segment accepted"] == "json: HTTP 200, application/json"
        assert observed["answer shape"].startswith("JSON array of ")
        assert "call_start" in observed["record fields present"]
        assert observed["time stamp form (call_start)"].endswith("no offset: read in MIXVOIP_TIMEZONE")
        assert "CALLIN" in observed["record types"] and "invoice" in observed
    for account in served.get("telecomx", ()):
        observed = seen[("telecomx", account.name)]
        assert observed["interval keys (HOUR)"] == "24 distinct, bare numbers 0-23"
        assert observed["counters present"] == "all 10 in every interval"
        assert observed["inbound counters"].startswith("inboundAnswered 0 in all ")
        assert "busiest hour key" in observed


def test_probe_reports_what_a_belfabriek_answer_shows_of_its_open_readings(tmp_path, simulated):
    text, environment, served = simulated
    account = served["belfabriek"][0]

    def observed() -> dict[str, str]:
        done = probe(tmp_path, text, environment)
        assert done.returncode == 0, done.stdout + done.stderr
        return probe_readings(done.stdout)[("belfabriek", account.name)]

    default = observed()
    assert default["statistics path"] == "/statistics/ answered HTTP 200"
    assert default["XML declaration / encoding"] == "declared UTF-8"
    assert default["root element"] == "CALLERS_DATA_RECORDS"
    assert default["data-record blocks"] == "8 (CALLER_DATA_RECORDS 8)"
    records = default["TIMESTAMP form"].removeprefix("dd-mm-yyyy HH:MM:SS: ")
    first, _, total = records.partition(" of ")
    assert first == total and int(total) > 100, default["TIMESTAMP form"]
    assert default["TIMESTAMP read as Europe/Amsterdam inside the requested window"] == records
    assert "'dal' x" in default["PEAK values"] and "not recognised" not in default["PEAK values"]
    answer = account.options["base_url"] + "/_sim/answer"
    httpx.post(answer, json={"encoding": "ISO-8859-1", "declaration": False, "wrapper": "STATISTICS"})
    try:
        other = observed()
    finally:
        httpx.post(answer, json={})
    assert other["XML declaration / encoding"].startswith("none; ASCII only")
    assert other["root element"] == "other: <STATISTICS>"
    assert other["data-record blocks"] == "8 (CALLER_DATA_RECORDS 8)"


def test_probe_reports_what_a_tenios_answer_shows_of_its_open_readings(tmp_path, simulated):
    text, environment, served = simulated
    done = probe(tmp_path, text, environment)
    assert done.returncode == 0, done.stdout + done.stderr
    observed = probe_readings(done.stdout)[("tenios", served["tenios"][0].name)]
    # the simulator's default: UTC stamps with Z, every leg inside the bounds asked for
    assert observed["time stamps carry an offset"].startswith("yes: ")
    assert observed["time stamp form"].startswith("YYYY-MM-DDTHH:MM:SS.999Z")
    assert observed["legs within the requested bounds"].startswith("yes: ")
    assert observed["page_size accepted"].startswith("asked 500, answer says 500")
    assert observed["record fields the docs do not name"] == "none"
