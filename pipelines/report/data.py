"""What the report shows, read from the mart (sql/report/*.sql) and nothing else: each query
aggregates, so what is read grows with the accounts and the days, never with the calls."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pipelines.errors import ConfigurationError, unknown_name
from pipelines.sql import sql_file

DEFAULT_DAYS = 30
# The longest lists: the destinations, the number types and the service numbers shown
TOP = 10
# The quarantine check's default limit (CDR_QUARANTINE_WARN_SHARE); callers pass the configured one.
DEFAULT_WARN_SHARE = 0.01
# A day fetched less than this many hours after it ended may still miss records a provider sends
# late; the nightly run fetches it again on the following nights (CDR_REPULL_DAYS).
SETTLE_HOURS = 24

Row = dict[str, Any]


@dataclass(frozen=True)
class ReportRequest:
    """The period (local dates, both included) and the filters of one report."""
    first: date
    last: date
    provider: str | None = None
    account: str | None = None
    quarantine_warn_share: float = DEFAULT_WARN_SHARE
    settle_hours: float = SETTLE_HOURS

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ConfigurationError("--from", self.first.isoformat(),
                                     f"after --to ({self.last.isoformat()}); expected the first date of"
                                     " the period, on or before its last")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def previous(self) -> tuple[date, date]:
        """The period of equal length just before this one."""
        return self.first - timedelta(days=self.days), self.first - timedelta(days=1)

    def params(self) -> dict[str, Any]:
        previous_from, previous_to = self.previous
        return {"from": self.first, "to": self.last, "previous_from": previous_from,
                "previous_to": previous_to, "provider": self.provider, "account": self.account,
                "warn_share": self.quarantine_warn_share, "settle_hours": self.settle_hours, "limit": TOP}


def last_days(days: int = DEFAULT_DAYS, today: date | None = None) -> tuple[date, date]:
    """The `days` local dates before today (today, still under way, left out)."""
    today = today or datetime.now(UTC).astimezone().date()
    return today - timedelta(days=days), today - timedelta(days=1)


@dataclass
class ReportData:
    request: ReportRequest
    generated_at: datetime
    headline: dict[str, Row]          # "current" and "previous"
    daily: list[Row]                  # per local date, provider and account
    weekday_hour: list[Row]
    countries: list[Row]
    number_types: list[Row]
    service_numbers: list[Row]
    employees: list[Row]
    data_quality: list[Row]


def check_filters(conn: psycopg.Connection, request: ReportRequest) -> None:
    """An --account the mart does not know (of --provider, if given) is a mistake, said in one line."""
    if request.account is None:
        return
    names = [account for provider, account in conn.execute(sql_file("report/accounts.sql")).fetchall()
             if request.provider in (None, provider)]
    if request.account not in names:
        of = f" of provider {request.provider}" if request.provider else ""
        raise ConfigurationError("--account", request.account,
                                 unknown_name(f"account{of} in the mart", request.account, names))


def read_report(conn: psycopg.Connection, request: ReportRequest) -> ReportData:
    params = request.params()

    def query(name: str, **extra: Any) -> list[Row]:
        with conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(sql_file(f"report/{name}.sql"), {**params, **extra}).fetchall()

    return ReportData(
        request=request,
        generated_at=datetime.now(UTC),
        headline={row["period"]: row for row in query("headline")},
        daily=query("daily_by_account"),
        weekday_hour=query("weekday_hour"),
        countries=query("destinations", dimension="destination_country"),
        number_types=query("destinations", dimension="destination_number_type"),
        service_numbers=query("service_numbers"),
        employees=query("employees"),
        data_quality=query("data_quality"),
    )
