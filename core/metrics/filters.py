"""Dashboard filters, how they scope each kind of record, and calendar-month helpers.

Month arithmetic happens in Python (never in SQL) so every query runs unchanged on SQLite and
PostgreSQL: queries select rows in a date range and the rows are bucketed into months here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select

from core.db.models import Account
from core.errors import InvalidInput

PERIODS: tuple[int, ...] = (30, 90, 180, 365)

# Any select statement; the scoping helpers hand back the same statement type they were given
SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True)
class DashboardFilters:
    """What the dashboard looks at.

    - ``owner``: an employee email. Deals (pipeline, forecast, bookings) are scoped by the deal's
      owner, calls by the rep who ran the call, and every account-based metric (ARR, retention,
      invoices, rent volume, health, onboarding) by the account's owner.
    - ``segment``: smb | mid_market | enterprise, always through the account (a deal's or a
      call's account); records without an account drop out when a segment is chosen.
    - ``period_days``: the horizon of the weighted forecast and the window of the bookings total.
    - ``as_of``: "today"; every window is computed relative to it.
    """

    as_of: date
    owner: str | None = None
    segment: str | None = None
    period_days: int = 90

    def __post_init__(self) -> None:
        if self.period_days not in PERIODS:
            raise InvalidInput(f"period_days must be one of {', '.join(map(str, PERIODS))}")
        if isinstance(self.as_of, datetime) or not isinstance(self.as_of, date):
            raise InvalidInput("as_of must be a date")
        # empty strings from a form mean "no filter"
        object.__setattr__(self, "owner", self.owner or None)
        object.__setattr__(self, "segment", self.segment or None)


def scope_accounts(stmt: SelectT, filters: DashboardFilters) -> SelectT:
    """Apply the owner and segment filters to a statement that has ``Account`` in its FROM."""
    if filters.owner:
        stmt = stmt.where(Account.owner == filters.owner)
    if filters.segment:
        stmt = stmt.where(Account.segment == filters.segment)
    return stmt


def scope_by_account_segment(stmt: SelectT, filters: DashboardFilters) -> SelectT:
    """Apply only the segment filter (for records whose owner is their own, e.g. deals and calls)."""
    if filters.segment:
        stmt = stmt.where(Account.segment == filters.segment)
    return stmt


# ---- calendar helpers ---------------------------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    """The first day of the month ``n`` months after the month of ``month``."""
    index = month.year * 12 + (month.month - 1) + n
    return date(index // 12, index % 12 + 1, 1)


def last_complete_month(as_of: date) -> date:
    """The calendar month before the month containing ``as_of`` (its first day)."""
    return add_months(month_start(as_of), -1)


def months_ending(last: date, count: int) -> list[date]:
    """``count`` month starts, oldest first, ending with the month of ``last``."""
    last = month_start(last)
    return [add_months(last, i - count + 1) for i in range(count)]


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_after(day: date) -> datetime:
    """Midnight UTC at the end of ``day``: the exclusive upper bound of a window ending that day."""
    return start_of_day(day + timedelta(days=1))


def utc_date(value: datetime) -> date:
    return value.astimezone(UTC).date()


def today() -> date:
    return datetime.now(UTC).date()


def money(value: float | int | None) -> float:
    """A USD amount rounded to cents (sums of floats drift by fractions of a cent)."""
    return round(float(value or 0), 2)
