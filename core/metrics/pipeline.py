"""Sales metrics from deals: pipeline by stage, weighted forecast, bookings.

Deals are scoped by the deal's owner and by the segment of the deal's account. Stage names go
through ``core.metrics.stages.canonical_stage``; a deal whose stage is not in the model is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.db.models import Account, Deal
from core.metrics import stages
from core.metrics.filters import (
    DashboardFilters,
    SelectT,
    add_months,
    last_complete_month,
    money,
    months_ending,
    scope_by_account_segment,
    start_of_day,
    utc_date,
)

PIPELINE_COLUMNS = ["stage", "label", "probability", "deals", "amount", "weighted_amount"]
BOOKINGS_COLUMNS = ["month", "bookings", "deals"]


def _scoped_deals(stmt: SelectT, filters: DashboardFilters) -> SelectT:
    stmt = stmt.select_from(Deal).outerjoin(Account, Deal.account_id == Account.id)
    if filters.owner:
        stmt = stmt.where(Deal.owner == filters.owner)
    return scope_by_account_segment(stmt, filters)


def pipeline_by_stage(*, session: Session, filters: DashboardFilters) -> pd.DataFrame:
    """Open deals per stage, in stage order (every open stage listed, zeros included).

    ``deals`` counts open deals, ``amount`` sums their annual contract value, ``weighted_amount`` is
    amount × the stage probability. No date window: the pipeline is everything open now.
    """
    stmt = _scoped_deals(select(Deal.stage, func.count(Deal.id), func.sum(Deal.amount)), filters)
    rows = session.execute(stmt.group_by(Deal.stage)).all()
    totals: dict[str, list[float]] = {name: [0, 0.0] for name in stages.OPEN_STAGES}
    for raw, count, amount in rows:
        stage = stages.canonical_stage(raw)
        if stage in totals:
            totals[stage][0] += int(count)
            totals[stage][1] += float(amount or 0)
    return pd.DataFrame(
        [
            {
                "stage": name,
                "label": stages.label(name),
                "probability": stages.probability(name),
                "deals": int(count),
                "amount": money(amount),
                "weighted_amount": money(amount * stages.probability(name)),
            }
            for name, (count, amount) in totals.items()
        ],
        columns=PIPELINE_COLUMNS,
    )


@dataclass(frozen=True)
class Forecast:
    """Σ amount × stage probability over open deals with ``start <= close_date <= end``."""

    weighted_amount: float
    pipeline_amount: float  # the unweighted amount of the same deals
    deals: int
    start: date
    end: date


def weighted_forecast(*, session: Session, filters: DashboardFilters) -> Forecast:
    """The weighted forecast for the next ``period_days``: open deals whose close date falls
    between ``as_of`` and ``as_of + period_days`` (both included), each counted at amount × the
    probability of its stage. Open deals whose close date has already passed are not forecast."""
    start, end = filters.as_of, filters.as_of + timedelta(days=filters.period_days)
    stmt = _scoped_deals(select(Deal.stage, func.count(Deal.id), func.sum(Deal.amount)), filters)
    stmt = stmt.where(Deal.close_date >= start, Deal.close_date <= end).group_by(Deal.stage)
    weighted = pipeline = 0.0
    deals = 0
    for raw, count, amount in session.execute(stmt):
        stage = stages.canonical_stage(raw)
        if stage not in stages.OPEN_STAGES:
            continue
        deals += int(count)
        pipeline += float(amount or 0)
        weighted += float(amount or 0) * stages.probability(stage)
    return Forecast(money(weighted), money(pipeline), deals, start, end)


def _won_deals(session: Session, filters: DashboardFilters, since: date) -> list[tuple[date, float]]:
    """(booking date, amount) of closed-won deals booked on or after ``since``.

    The booking date is the UTC date of ``closed_at``, or ``close_date`` when ``closed_at`` is unset."""
    stmt = _scoped_deals(select(Deal.stage, Deal.closed_at, Deal.close_date, Deal.amount), filters)
    stmt = stmt.where(
        or_(Deal.closed_at >= start_of_day(since), (Deal.closed_at.is_(None)) & (Deal.close_date >= since))
    )
    out = []
    for raw, closed_at, close_date, amount in session.execute(stmt):
        if stages.canonical_stage(raw) != stages.WON:
            continue
        booked = utc_date(closed_at) if closed_at else close_date
        if booked is not None and booked >= since:
            out.append((booked, float(amount or 0)))
    return out


def bookings_trend(*, session: Session, filters: DashboardFilters, months: int = 12) -> pd.DataFrame:
    """Closed-won amount and deal count per calendar month of the booking date, for the ``months``
    complete months ending with the last complete month before ``as_of`` (zeros included)."""
    buckets = months_ending(last_complete_month(filters.as_of), months)
    end = add_months(buckets[-1], 1)
    totals = {m: [0.0, 0] for m in buckets}
    for booked, amount in _won_deals(session, filters, buckets[0]):
        key = booked.replace(day=1)
        if booked < end and key in totals:
            totals[key][0] += amount
            totals[key][1] += 1
    return pd.DataFrame(
        [{"month": m, "bookings": money(a), "deals": n} for m, (a, n) in totals.items()], columns=BOOKINGS_COLUMNS
    )


@dataclass(frozen=True)
class Bookings:
    """Closed-won deals booked in the ``period_days`` days ending ``as_of`` (both ends included)."""

    amount: float
    deals: int
    start: date
    end: date


def bookings_total(*, session: Session, filters: DashboardFilters) -> Bookings:
    start = filters.as_of - timedelta(days=filters.period_days - 1)
    won = [(d, a) for d, a in _won_deals(session, filters, start) if d <= filters.as_of]
    return Bookings(money(sum(a for _, a in won)), len(won), start, filters.as_of)
