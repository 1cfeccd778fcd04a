"""Configuration is read once, into objects handed to the code that needs it: bad values are
refused up front naming the variable, parse settings reach the parser (and its version), and
nothing reads the environment while parsing or loading."""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from pipelines.config import Configuration, account_from_env
from pipelines.definitions import definitions_from_env
from pipelines.errors import ConfigurationError
from pipelines.model import RawPage
from pipelines.providers.belfabriek.settings import BelfabriekParseSettings
from pipelines.providers.mixvoip.settings import MixvoipSettings
from pipelines.providers.settings import HttpSettings, read_settings
from pipelines.warehouse.load import load_window
from tests.conftest import scalar
from tests.providers_under_test import providers_under_test

SPECS = providers_under_test()  # plug-ins included: a new provider is covered without an edit


@pytest.mark.parametrize(("environ", "named", "valid"), [
    ({"MIXVOIP_FORMAT": "xml"}, "MIXVOIP_FORMAT='xml'", "json, csv"),
    ({"MIXVOIP_CHUNK_DAYS": "ninety"}, "MIXVOIP_CHUNK_DAYS='ninety'", "a number"),
    ({"MIXVOIP_CHUNK_DAYS": "400"}, "MIXVOIP_CHUNK_DAYS='400'", "1..85"),
    ({"MIXVOIP_TIMEZONE": "Mars/Olympus"}, "MIXVOIP_TIMEZONE='Mars/Olympus'", "IANA time zone"),
    ({"BELFABRIEK_DST_REPEATED_HOUR": "whenever"}, "BELFABRIEK_DST_REPEATED_HOUR='whenever'",
     "earlier, later"),
    ({"BELFABRIEK_EXTENSION_DISPLAY": "maybe"}, "BELFABRIEK_EXTENSION_DISPLAY='maybe'", "1, true"),
    ({"TELECOMX_GROUPING_INTERVAL": "fortnight"}, "TELECOMX_GROUPING_INTERVAL='FORTNIGHT'", "HOUR, DAY"),
    ({"TENIOS_PAGE_SIZE": "lots"}, "TENIOS_PAGE_SIZE='lots'", "a number"),
    ({"CDR_HTTP_TIMEOUT_S": "soon"}, "CDR_HTTP_TIMEOUT_S='soon'", "a number"),  # the one set
    ({"CDR_PROVIDERS": "tenios,foo"}, "CDR_PROVIDERS='tenios,foo'", "known: belfabriek"),
    ({"CDR_START_DATE": "garbage"}, "CDR_START_DATE='garbage'", "YYYY-MM-DD"),
    ({"CDR_REPULL_DAYS": "0"}, "CDR_REPULL_DAYS='0'", "at least 1"),
    ({"CDR_FORCE_RELOAD": "please"}, "CDR_FORCE_RELOAD='please'", "1/true"),
])
def test_a_bad_setting_stops_the_definitions_naming_variable_value_and_what_is_valid(environ, named, valid):
    with pytest.raises(ConfigurationError) as caught:
        definitions_from_env(environ)
    assert named in str(caught.value) and valid in str(caught.value), str(caught.value)


def test_settings_come_from_the_environment_once_with_http_fallbacks():
    account = account_from_env(SPECS["mixvoip"], {
        "MIXVOIP_PROFILE_IDS": "100201, 100202", "MIXVOIP_LEGACY_URLS": "yes", "MIXVOIP_FORMAT": "CSV",
        "CDR_HTTP_TIMEOUT_S": "7", "MIXVOIP_MAX_ATTEMPTS": "2", "CDR_HTTP_MAX_ATTEMPTS": "9"})
    settings = account.settings
    assert isinstance(settings, MixvoipSettings)
    assert (settings.profile_ids, settings.legacy_urls, settings.format) \
        == (("100201", "100202"), True, "csv")
    assert settings.http == HttpSettings(timeout_s=7.0, max_attempts=2)  # provider's own beats CDR_HTTP_*
    assert account.credential_variables == {"username": "MIXVOIP_USERNAME", "password": "MIXVOIP_PASSWORD"}
    assert account_from_env(SPECS["belfabriek"], {"BELFABRIEK_CUSTOMER_ID": "77"}).account == "77"


def test_an_unknown_setting_name_is_refused():
    with pytest.raises(ConfigurationError, match=r"mixvoip\.formta: unknown setting"):
        read_settings(MixvoipSettings, {"formta": "csv"}, where="mixvoip.")


@pytest.mark.parametrize("provider", sorted(SPECS))
def test_parser_version_follows_parse_settings_not_other_settings(provider):
    spec = SPECS[provider]
    base = account_from_env(spec, {})
    other_page = account_from_env(spec, {f"{spec.env_prefix}_TIMEOUT_S": "3",
                                         f"{spec.env_prefix}_ACCOUNT": "x"})
    assert other_page.parser_version == base.parser_version
    parse_setting = {"mixvoip": {"MIXVOIP_PRICE_MEANING": "euros_total"},
                     "belfabriek": {"BELFABRIEK_DST_REPEATED_HOUR": "later"},
                     "telecomx": {"TELECOMX_WEEK_SCHEME": "sunday"}}.get(provider)
    if parse_setting is not None:
        assert account_from_env(spec, parse_setting).parser_version != base.parser_version


def test_a_parse_setting_from_the_environment_reaches_the_parser():
    body = (b'<?xml version="1.0"?><CALLER_DATA_RECORDS servicenumber="318001234567"><RECORD>'
            b"<TIMESTAMP>25-10-2026 02:30:00</TIMESTAMP><NUMBER>0201234567</NUMBER><DURATION>10</DURATION>"
            b"</RECORD></CALLER_DATA_RECORDS>")
    page = RawPage(1, 1, body, "text/xml")
    earlier = next(account_from_env(SPECS["belfabriek"], {}).parse([page]))
    later = next(account_from_env(SPECS["belfabriek"],
                                  {"BELFABRIEK_DST_REPEATED_HOUR": "later"}).parse([page]))
    assert (earlier.started_at.hour, later.started_at.hour) == (0, 1)  # 02:30 CEST, then 02:30 CET
    assert BelfabriekParseSettings("later") == account_from_env(
        SPECS["belfabriek"], {"BELFABRIEK_DST_REPEATED_HOUR": " LATER "}).settings.parse_settings()


def test_credentials_are_references_resolved_only_when_a_client_opens():
    config = Configuration.from_env({"CDR_PROVIDERS": "telecomx,tenios"})  # no secret set: still loads
    telecomx, tenios = config.account("telecomx"), config.account("tenios")
    with pytest.raises(ConfigurationError) as caught:
        tenios.open_client({})
    assert "TENIOS_ACCESS_KEY" in str(caught.value)
    # Telecom X takes a token, or a user name and password; the error names both ways
    with pytest.raises(ConfigurationError, match="TELECOMX_TOKEN or TELECOMX_USERNAME \\+ TELECOMX_PASSWORD"):
        telecomx.open_client({"TELECOMX_USERNAME": "someone"})
    secret = "s3cret-token-never-shown"
    # closing(): the ProviderClient protocol promises close(), not the context-manager methods
    with closing(telecomx.open_client({"TELECOMX_TOKEN": secret})) as client:
        assert client.account == "default"
    assert secret not in repr(config) and secret not in repr(telecomx)


class _NoReading(Mapping[str, str]):
    """An environment that fails the test on any read."""

    def __getitem__(self, key: str) -> str:
        raise AssertionError(f"os.environ[{key!r}] read while parsing or loading")

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("os.environ listed while parsing or loading")

    def __len__(self) -> int:
        raise AssertionError("os.environ read while parsing or loading")

    def get(self, key, default=None):
        raise AssertionError(f"os.environ.get({key!r}) read while parsing or loading")


@contextmanager
def _environment_unreadable() -> Iterator[None]:
    # B003 is deliberate: os.environ is swapped for a mapping that fails on any read (not cleared),
    # proving nothing reads the environment while parsing or loading; the original is put back.
    saved = os.environ
    os.environ = _NoReading()  # type: ignore[assignment]  # noqa: B003  # any read inside fails the test
    try:
        yield
    finally:
        os.environ = saved  # noqa: B003  # restores the real environment swapped out above


@pytest.mark.parametrize("provider", sorted(SPECS))
def test_nothing_reads_the_environment_while_parsing_or_loading(provider, clean_warehouse):
    spec = SPECS[provider]
    account = account_from_env(spec, {})
    assert spec.conformance is not None and spec.conformance.fixtures, f"{provider} has no doc examples"
    pages = [RawPage(1, 1, body, None, params) for body, params in spec.conformance.fixture_pages()]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with psycopg.connect(clean_warehouse) as conn, _environment_unreadable():
        stats = load_window(conn, provider, "acct", (start, start + timedelta(days=1)), spec.items,
                            account.parse(pages, "acct"))
    assert stats.primary.parsed + stats.quarantined > 0
    assert scalar(clean_warehouse, "SELECT count(*) FROM cdr.load_audit WHERE provider = %s",
                  (provider,)) == 1
