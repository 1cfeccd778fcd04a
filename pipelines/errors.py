"""Typed errors. Every message names the provider, and where it applies the window and field.

Messages never contain credentials: clients raise these with already-redacted URLs and bodies.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


def _window_text(window: tuple[datetime, datetime] | None) -> str:
    if window is None:
        return ""
    start, end = window
    return f" window [{start.isoformat()}, {end.isoformat()})"


class CdrEtlError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigurationError(CdrEtlError):
    """A setting is missing or has a value that cannot be used. Names the setting and, since
    settings are never secrets, the value; says what would be valid."""

    def __init__(self, setting: str, value: object, message: str):
        self.setting = setting
        self.value = value
        shown = "" if value is None else f"={str(value)[:240]!r}"  # long enough for a path
        super().__init__(f"{setting}{shown}: {message}")


def unknown_name(kind: str, name: str, known: Iterable[str]) -> str:
    """The message for a name that is not one of `known`: most often a typo, so the nearest known
    name is suggested before the whole list ("unknown key; did you mean 'customers'? known: ...")."""
    known = list(known)
    nearest = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"unknown {kind}; " + (f"did you mean {nearest[0]!r}? " if nearest else "") + "known: " \
        + ", ".join(known)


class WarehouseConnectionError(CdrEtlError):
    """The warehouse could not be reached, or refused the login. Says which server (host and
    port, never the password), the setting that chose it, and what to try."""


class ProviderError(CdrEtlError):
    """The provider answered something we cannot use."""

    retryable = False

    def __init__(self, provider: str, message: str, *, window=None, status: int | None = None,
                 code: str | None = None):
        self.provider = provider
        self.detail = message  # the message without the provider and window prefix
        self.window = window
        self.status = status
        self.code = code
        parts = [f"{provider}:{_window_text(window)}".rstrip(":") + ":", message]
        if status is not None:
            parts.append(f"(HTTP {status})")
        if code is not None:
            parts.append(f"[code {code}]")
        super().__init__(" ".join(parts))


class ProviderAuthError(ProviderError):
    """Credentials were refused. Never retried: retrying a bad key only gets an account locked."""


class ProviderRequestError(ProviderError):
    """The provider rejected the request itself (4xx, or an error body naming a request field)."""


class ProviderUnavailableError(ProviderError):
    """Timeouts, 5xx and rate limits that outlasted every retry."""

    retryable = True


class ProviderResponseError(ProviderError):
    """A success status with a body that is not what the docs describe (truncated, wrong shape)."""

    retryable = True


@dataclass
class ParseError(CdrEtlError):
    """One record (or a whole body) could not be read. Carries what the quarantine table stores."""

    provider: str
    field: str | None
    reason: str
    record_index: int | None = None

    def __str__(self) -> str:
        where = f" record {self.record_index}" if self.record_index is not None else ""
        field = f" field {self.field!r}" if self.field else ""
        return f"{self.provider}:{where}{field}: {self.reason}"


class WindowInconsistentError(ProviderResponseError):
    """The provider's answers for one window contradicted each other while paging: the total
    changed, a page came back empty before the total was reached, or records repeated so that
    fewer distinct records arrived than the total. The whole window is fetched again."""


class WindowNotReplayableError(CdrEtlError):
    """A window's raw pages are gone (an erasure deleted them, or their retention ran out), so it
    cannot be parsed again; its legs are as they were last loaded. A re-pull of the window from
    the provider (its raw_pages asset) makes it replayable again."""

    def __init__(self, provider: str, account: str, window: tuple[datetime, datetime], missing: int,
                 reason: str | None):
        self.provider, self.account, self.window, self.missing, self.reason = (
            provider, account, window, missing, reason)
        why = f"deleted by {reason}" if reason else "deleted"
        super().__init__(f"{provider} account {account!r}:{_window_text(window)} is not replayable: {missing}"
                         f" of its raw pages were {why}; its legs stay as last loaded. Re-pull the day"
                         " from the provider (its raw_pages asset) to load it again")
