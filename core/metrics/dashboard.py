"""Everything the dashboard shows, computed in one call, plus the choices for its filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from core.db.models import SEGMENTS, Account, Call, Deal, Employee, Invoice, RentPaymentVolume
from core.metrics.activity import CallsWeek, calls_this_week
from core.metrics.customers import (
    Overdue,
    RentMonth,
    accounts_by_health,
    customers_with_payment_issues,
    overdue_invoices,
    rent_last_month,
    rent_volume_trend,
    stuck_accounts,
)
from core.metrics.filters import DashboardFilters
from core.metrics.pipeline import (
    Bookings,
    Forecast,
    bookings_total,
    bookings_trend,
    pipeline_by_stage,
    weighted_forecast,
)
from core.metrics.revenue import CurrentArr, Retention, arr_trend, current_arr, retention_trend

TREND_MONTHS = 12
RETENTION_TREND_MONTHS = 6  # NRR and churn as of each of the last six months: their trend on the cards


@dataclass(frozen=True)
class Dashboard:
    filters: DashboardFilters
    arr: CurrentArr
    retention: Retention
    retention_trend: list[Retention]  # oldest first; the last is ``retention``, the one before it the previous period
    forecast: Forecast
    bookings: Bookings
    rent_last_month: RentMonth
    overdue: Overdue
    calls: CallsWeek
    pipeline: pd.DataFrame = field(repr=False)
    bookings_trend: pd.DataFrame = field(repr=False)
    arr_trend: pd.DataFrame = field(repr=False)
    rent_trend: pd.DataFrame = field(repr=False)
    payment_issues: pd.DataFrame = field(repr=False)
    health: pd.DataFrame = field(repr=False)
    stuck: pd.DataFrame = field(repr=False)


def load_dashboard(*, session: Session, filters: DashboardFilters) -> Dashboard:
    kw: dict[str, Any] = {"session": session, "filters": filters}
    retentions = retention_trend(**kw, months=RETENTION_TREND_MONTHS)
    return Dashboard(
        filters=filters,
        arr=current_arr(**kw),
        retention=retentions[-1],
        retention_trend=retentions,
        forecast=weighted_forecast(**kw),
        bookings=bookings_total(**kw),
        rent_last_month=rent_last_month(**kw),
        overdue=overdue_invoices(**kw),
        calls=calls_this_week(**kw),
        pipeline=pipeline_by_stage(**kw),
        bookings_trend=bookings_trend(**kw, months=TREND_MONTHS),
        arr_trend=arr_trend(**kw, months=TREND_MONTHS),
        rent_trend=rent_volume_trend(**kw, months=TREND_MONTHS),
        payment_issues=customers_with_payment_issues(**kw),
        health=accounts_by_health(**kw),
        stuck=stuck_accounts(**kw),
    )


def has_business_data(*, session: Session) -> bool:
    """Whether any record the dashboard reads exists (an empty database gets an empty state)."""
    return any(
        session.scalar(select(exists().where(model.id.is_not(None))))
        for model in (Account, Deal, Invoice, RentPaymentVolume, Call)
    )


@dataclass(frozen=True)
class Owner:
    email: str
    name: str  # the employee's name when we know it, else the email


@dataclass(frozen=True)
class FilterOptions:
    owners: list[Owner]
    segments: list[str]


def filter_options(*, session: Session) -> FilterOptions:
    """Owners seen on accounts, deals or calls (named from the employees table), and the segments."""
    emails: set[str] = set()
    for column in (Account.owner, Deal.owner, Call.owner):
        emails.update(e for e in session.scalars(select(column).where(column.is_not(None)).distinct()) if e)
    names: dict[str, str] = {}
    if emails:
        names = {
            e: n for e, n in session.execute(select(Employee.email, Employee.name).where(Employee.email.in_(emails)))
        }
    owners = sorted((Owner(e, names.get(e) or e) for e in emails), key=lambda o: o.name.lower())
    segments_seen = session.scalars(select(Account.segment).where(Account.segment.is_not(None)).distinct())
    present = {s for s in segments_seen if s is not None}  # the WHERE clause already leaves out None
    segments = [s for s in SEGMENTS if s in present] + sorted(present - set(SEGMENTS))
    return FilterOptions(owners=owners, segments=segments)
