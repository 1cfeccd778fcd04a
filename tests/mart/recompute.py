"""The mart's KPIs recomputed in Python from cdr.fact_call, for tests to hold mart.kpi_daily and
mart.kpi_hourly against: zoneinfo for local time, the documented definitions for each measure and
ratio, and none of the mart's SQL (neither mart.calls nor refresh_kpis.sql is read here)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from tests.conftest import rows

# The stored measures, then the generated ratios, as mart.kpi_daily names them.
MEASURES = ("calls", "answered", "missed", "unknown_outcome", "talk_s", "duration_s", "billable_s",
            "cost_eur")
RATIOS = ("asr", "acd_s", "minutes", "billable_minutes", "cost_per_minute")
DAILY_KEY = ("provider", "account", "local_date", "customer", "service_number", "direction")
HOURLY_KEY = (*DAILY_KEY, "local_hour")
# What the mart asset stores (the rest of the mart are views over them and the facts).
MART_TABLES = ("mart.kpi_daily", "mart.kpi_hourly", "mart.dim_account", "mart.dim_date",
               "cdr.number_enrichment")


@dataclass
class Kpis:
    calls: int = 0
    answered: int = 0
    missed: int = 0
    unknown_outcome: int = 0
    talk_s: int = 0
    duration_s: int = 0
    billable_s: Decimal | None = None
    cost_eur: Decimal | None = None

    def add(self, call: Mapping) -> None:
        self.calls += 1
        outcome = call["outcome"]
        if outcome == "answered":
            self.answered += 1
            self.talk_s += talk_seconds(call)
        elif outcome == "unknown":
            self.unknown_outcome += 1
        else:
            self.missed += 1
        self.duration_s += call["duration_s"] or 0
        # a sum over no given value stays unknown, as SQL's sum() does
        if call["billable_s"] is not None:
            self.billable_s = (self.billable_s or Decimal(0)) + call["billable_s"]
        if call["cost_eur"] is not None:
            self.cost_eur = (self.cost_eur or Decimal(0)) + call["cost_eur"]

    def row(self) -> tuple:
        """The measures, then the ratios as the column comments of mart.kpi_daily define them."""
        billed_or_talked = self.billable_s if self.billable_s is not None else Decimal(self.talk_s)
        ratios = (
            Decimal(self.answered) / self.calls if self.answered + self.missed else None,
            Decimal(self.talk_s) / self.answered if self.answered else None,
            Decimal(self.talk_s) / 60,
            self.billable_s / 60 if self.billable_s is not None else None,
            self.cost_eur / (billed_or_talked / 60)
            if self.cost_eur is not None and billed_or_talked else None,
        )
        return (*(getattr(self, f.name) for f in fields(self)), *ratios)


def talk_seconds(call: Mapping) -> int:
    """Answer to end, to the nearest second (halves up), where the provider gives an answer time;
    else the duration (MIXvoip's is the talk time)."""
    if call["answered_at"] is None:
        return call["duration_s"]
    spoken = (call["ended_at"] - call["answered_at"]) / timedelta(microseconds=1)
    return int((Decimal(int(spoken)) / 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def local_start(started_at: datetime, zone: str) -> datetime:
    return started_at.astimezone(ZoneInfo(zone))


def fact_calls(url: str) -> list[dict]:
    columns = ("provider", "account", "customer", "service_number", "direction", "started_at", "answered_at",
               "ended_at", "outcome", "duration_s", "billable_s", "cost_eur")
    return [dict(zip(columns, row, strict=True))
            for row in rows(url, f"SELECT {', '.join(columns)} FROM cdr.fact_call")]


def expected_kpis(url: str, zones: Mapping[tuple[str, str], str]) -> tuple[dict[tuple, tuple],
                                                                           dict[tuple, tuple]]:
    """({daily key: row}, {hourly key: row}) from every call in cdr.fact_call, each read in its
    account's zone (`zones`: {(provider, account): IANA zone})."""
    daily: dict[tuple, Kpis] = {}
    hourly: dict[tuple, Kpis] = {}
    for call in fact_calls(url):
        local = local_start(call["started_at"], zones[call["provider"], call["account"]])
        key = (call["provider"], call["account"], local.date(), call["customer"], call["service_number"],
               call["direction"])
        daily.setdefault(key, Kpis()).add(call)
        hourly.setdefault((*key, local.hour), Kpis()).add(call)
    return ({key: kpis.row() for key, kpis in daily.items()},
            {key: kpis.row() for key, kpis in hourly.items()})


def stored_kpis(url: str, table: str) -> dict[tuple, tuple]:
    key = HOURLY_KEY if table == "mart.kpi_hourly" else DAILY_KEY
    return {row[:len(key)]: row[len(key):]
            for row in rows(url, f"SELECT {', '.join((*key, *MEASURES, *RATIOS))} FROM {table}")}


def differences(stored: Mapping[tuple, tuple], expected: Mapping[tuple, tuple]) -> list[str]:
    """What differs between the mart's rows and the recomputation, one line each (empty: equal).
    Measures must be equal; ratios equal to 12 significant digits (numeric division in
    PostgreSQL and Decimal division round at different places)."""
    found = [f"missing from the mart: {key}" for key in expected.keys() - stored.keys()]
    found += [f"not in the recomputation: {key} {stored[key]}" for key in stored.keys() - expected.keys()]
    names = (*MEASURES, *RATIOS)
    for key in stored.keys() & expected.keys():
        for name, got, want in zip(names, stored[key], expected[key], strict=True):
            if not _same(got, want, name in RATIOS):
                found.append(f"{key} {name}: mart {got}, recomputed {want}")
    return sorted(found)


def _same(got, want, ratio: bool) -> bool:
    if got is None or want is None:
        return got is None and want is None
    if not ratio:
        return bool(got == want)
    return math.isclose(float(got), float(want), rel_tol=1e-12, abs_tol=1e-12)


def local_dates(url: str, table: str, provider: str, account: str) -> set[date]:
    return {d for (d,) in rows(url, f"SELECT DISTINCT local_date FROM {table} WHERE provider = %s"
                                    " AND account = %s", (provider, account))}
