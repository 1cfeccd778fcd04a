"""Provider settings: plain frozen objects, read once and handed to the client and the parser.

Each provider declares a frozen dataclass of its settings (a subclass of `ProviderSettings`,
every field with a default) and, if its parser reads any of them, a frozen `parse_settings()`
view. The readers here turn flat name/value pairs into such an object, checking and converting
each value by the field's type:

- `read_settings(cls, values)`: from a mapping of field name to value (text, as the environment
  gives it, or already typed); unknown names are refused.
- `settings_from_env(cls, prefix, environ)`: from `<PREFIX>_<FIELD>` variables (HTTP fields
  fall back to `CDR_HTTP_<FIELD>`), the single-account quick start.

Nested dataclass fields (`http`) are flattened: their fields are named without a prefix.
Secrets are never settings: they are references to environment variables, resolved only when a
client opens (pipelines.providers.spec.resolve_credentials).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar, Union, cast
from urllib.parse import urlsplit

from pipelines.errors import ConfigurationError, unknown_name
from pipelines.providers.base import RetryPolicy

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class HttpSettings:
    """How hard a client tries: retries with exponential backoff and full jitter, and whole-window
    refetches when a window's pages contradict each other."""

    timeout_s: float = 30.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    # a window whose pages contradict each other (records shifting while paging) is fetched
    # again from its first page this many times in all
    window_attempts: int = 3

    def __post_init__(self) -> None:
        # Checked as the settings are read: a zero timeout or attempt count would otherwise show
        # up as a failed load, far from the setting that caused it.
        if not self.timeout_s > 0:
            raise SettingValueError("timeout_s", self.timeout_s, "expected a number of seconds above 0")
        for name in ("max_attempts", "window_attempts"):
            if getattr(self, name) < 1:
                raise SettingValueError(name, getattr(self, name), "expected a whole number of at least 1")
        if not self.backoff_base_s >= 0:
            raise SettingValueError("backoff_base_s", self.backoff_base_s,
                                    "expected a number of seconds, 0 or more")
        if not self.backoff_max_s >= self.backoff_base_s:
            raise SettingValueError("backoff_max_s", self.backoff_max_s,
                                    f"expected at least backoff_base_s ({self.backoff_base_s:g})")

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts, backoff_base_s=self.backoff_base_s,
                           backoff_max_s=self.backoff_max_s)


@dataclass(frozen=True)
class ProviderSettings:
    """What every provider account has: its name in the warehouse, where its API is, and how hard
    to retry. Subclasses add the provider's own options, each with a default."""

    account: str = "default"
    base_url: str = ""
    http: HttpSettings = field(default_factory=HttpSettings)

    def parse_settings(self) -> object:
        """The settings the parser reads (a frozen dataclass, part of the parser version)."""
        return None


class SettingValueError(ValueError):
    """Raised by a settings class's own checks (`__post_init__`): names the setting."""

    def __init__(self, setting: str, value: object, message: str):
        self.setting, self.value, self.message = setting, value, message
        super().__init__(f"{setting}={value!r}: {message}")


def one_of(setting: str, value: str, allowed: Iterable[str]) -> str:
    """`value` if it is one of `allowed`, else SettingValueError listing them."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise SettingValueError(setting, value, "expected one of " + ", ".join(allowed))
    return value


S = TypeVar("S")


@cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def flat_fields(cls: type) -> dict[str, Any]:
    """Field name -> type, nested dataclasses flattened into their own fields."""
    out: dict[str, Any] = {}
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            out.update(flat_fields(kind))  # type: ignore[arg-type]  # a dataclass type, not an instance
        else:
            out[f.name] = kind
    return out


def _convert(kind: Any, value: Any, where: str) -> Any:
    """`value` (text from the environment, or a typed value) as `kind`, or ConfigurationError."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType) and type(None) in args:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, where)
    if origin is tuple:
        items = [p.strip() for p in value.split(",")] if isinstance(value, str) else list(value)
        return tuple(str(item) for item in items if str(item).strip())
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ConfigurationError(where, value, "expected one of " + ", ".join(_TRUE + _FALSE[:-1]))
    if kind in (int, float):
        if isinstance(value, bool):
            raise ConfigurationError(where, value, f"expected a number ({kind.__name__})")
        try:
            return kind(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise ConfigurationError(where, value, f"expected a number ({kind.__name__})") from None
    if kind is str:
        return str(value).strip()
    raise TypeError(f"{where}: settings of type {kind!r} are not supported")


def read_settings(cls: type[S], values: Mapping[str, Any], *, where: str = "") -> S:
    """An instance of the settings dataclass `cls` from flat `values` (missing names keep their
    default). `where` prefixes the setting names in errors (e.g. the environment variable prefix)."""
    fields = flat_fields(cls)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigurationError(_label(where, unknown[0]), None, unknown_name("setting", unknown[0],
                                                                                  sorted(fields)))
    converted = {name: _convert(fields[name], value, _label(where, name)) for name, value in values.items()}
    try:
        if converted.get("base_url") and issubclass(cls, ProviderSettings):
            _check_base_url(converted["base_url"])
        return _build(cls, converted)
    except SettingValueError as exc:  # a settings class's own check (__post_init__) of a value
        raise ConfigurationError(_label(where, exc.setting), exc.value, exc.message) from None


def _check_base_url(url: str) -> None:
    """Here rather than in ProviderSettings.__post_init__: each provider's settings class has a
    __post_init__ of its own that does not call this one."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingValueError("base_url", url,
                                "expected an http:// or https:// URL, e.g. https://api.example.com")


def _label(where: str, name: str) -> str:
    """How a setting is named in an error: `TENIOS_PAGE_SIZE` for the environment."""
    return f"{where}{name.upper()}" if where.endswith("_") else f"{where}{name}"


def _build(cls: type[S], values: dict[str, Any]) -> S:
    hints = _hints(cast(Any, cls))  # a dataclass type: hashable, though mypy cannot see it of type[S]
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            kwargs[f.name] = _build(kind, values)  # type: ignore[arg-type]
        elif f.name in values:
            kwargs[f.name] = values[f.name]
    return cls(**kwargs)


def settings_from_env(cls: type[S], prefix: str, environ: Mapping[str, str]) -> S:
    """`cls` from `<PREFIX>_<FIELD>` variables; an HTTP field not set for the provider falls back
    to `CDR_HTTP_<FIELD>`. Variables that are unset or empty keep the default."""
    http = {f.name for f in dataclasses.fields(HttpSettings)}
    values = {}
    for name in flat_fields(cls):
        candidates = [f"{prefix}_{name.upper()}"] + ([f"CDR_HTTP_{name.upper()}"] if name in http else [])
        for variable in candidates:
            if environ.get(variable, "").strip():
                values[name] = environ[variable]
                break
    return read_settings(cls, values, where=f"{prefix}_")
