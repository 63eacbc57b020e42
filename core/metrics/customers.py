"""Customer metrics: health, stuck onboardings, overdue invoices, rent payment volume.

All of these are scoped through the account: its owner and its segment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from core.db.models import HEALTH, Account, Invoice, RentPaymentVolume
from core.metrics.filters import (
    DashboardFilters,
    add_months,
    last_complete_month,
    money,
    months_ending,
    scope_accounts,
    start_of_day,
    utc_date,
)

STUCK_AFTER_DAYS = 45  # an onboarding that has not moved for longer than this is stuck
PAYMENT_ISSUE_SUCCESS_RATE = 0.95  # a customer whose rent success rate is below this has payment issues
UNKNOWN_HEALTH = "unknown"

HEALTH_COLUMNS = ["health", "accounts", "arr"]
STUCK_COLUMNS = ["account_id", "account", "owner", "segment", "stage_changed_at", "days_stuck", "arr"]
OVERDUE_COLUMNS = ["invoice_id", "number", "account_id", "account", "owner", "kind", "due_on", "days_overdue", "amount"]
RENT_TREND_COLUMNS = ["month", "payments", "failed", "volume", "success_rate"]
RENT_CUSTOMER_COLUMNS = ["account_id", "account", "owner", "segment", "payments", "failed", "volume", "success_rate"]


def _success_rate(payments: float, failed: float) -> float | None:
    """1 − failed ÷ payments; None when there were no payments."""
    return 1 - failed / payments if payments > 0 else None


# ---- health -------------------------------------------------------------------------------


def accounts_by_health(*, session: Session, filters: DashboardFilters) -> pd.DataFrame:
    """Live customers (lifecycle ``live``) per health, in the order healthy, at_risk, critical
    (zeros included), plus ``unknown`` when some live customers have no health; with their Σ arr."""
    stmt = scope_accounts(
        select(Account.health, func.count(Account.id), func.sum(Account.arr)).where(Account.lifecycle_stage == "live"),
        filters,
    ).group_by(Account.health)
    counts: dict[str, list[float]] = {h: [0, 0.0] for h in HEALTH}
    for health, count, arr in session.execute(stmt):
        key = health if health in counts else UNKNOWN_HEALTH
        counts.setdefault(key, [0, 0.0])
        counts[key][0] += int(count)
        counts[key][1] += float(arr or 0)
    return pd.DataFrame(
        [{"health": h, "accounts": int(n), "arr": money(a)} for h, (n, a) in counts.items()], columns=HEALTH_COLUMNS
    )


# ---- onboarding ---------------------------------------------------------------------------


def stuck_accounts(*, session: Session, filters: DashboardFilters, after_days: int = STUCK_AFTER_DAYS) -> pd.DataFrame:
    """Accounts in lifecycle ``onboarding`` whose ``stage_changed_at`` is more than ``after_days``
    days before ``as_of``; ``days_stuck`` = as_of − the UTC date of stage_changed_at. Longest first.
    Accounts without a stage_changed_at are not listed (we cannot tell how long they have waited)."""
    cutoff = filters.as_of - timedelta(days=after_days)  # days_stuck > after_days <=> changed before cutoff
    stmt = scope_accounts(
        select(Account.id, Account.name, Account.owner, Account.segment, Account.stage_changed_at, Account.arr).where(
            Account.lifecycle_stage == "onboarding",
            Account.stage_changed_at.is_not(None),
            Account.stage_changed_at < start_of_day(cutoff),
        ),
        filters,
    )
    rows: list[dict[str, Any]] = [
        {
            "account_id": id_,
            "account": name,
            "owner": owner,
            "segment": segment,
            "stage_changed_at": changed,
            "days_stuck": (filters.as_of - utc_date(changed)).days,
            "arr": float(arr or 0),
        }
        for id_, name, owner, segment, changed, arr in session.execute(stmt)
        if changed is not None  # the WHERE clause already leaves out accounts without one
    ]
    rows.sort(key=lambda r: (-r["days_stuck"], r["account"]))
    return pd.DataFrame(rows, columns=STUCK_COLUMNS)


# ---- invoices -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Overdue:
    """Invoices with status ``open`` whose ``due_on`` is before ``as_of``; days_overdue = as_of − due_on."""

    count: int
    amount: float
    accounts: int
    invoices: pd.DataFrame = field(repr=False)  # OVERDUE_COLUMNS, most overdue first


def overdue_invoices(*, session: Session, filters: DashboardFilters) -> Overdue:
    stmt = scope_accounts(
        select(
            Invoice.id,
            Invoice.number,
            Invoice.account_id,
            Account.name,
            Account.owner,
            Invoice.kind,
            Invoice.due_on,
            Invoice.amount,
        )
        .select_from(Invoice)
        .outerjoin(Account, Invoice.account_id == Account.id)
        .where(Invoice.status == "open", Invoice.due_on < filters.as_of),
        filters,
    )
    rows: list[dict[str, Any]] = [
        {
            "invoice_id": id_,
            "number": number,
            "account_id": account_id,
            "account": name,
            "owner": owner,
            "kind": kind,
            "due_on": due_on,
            "days_overdue": (filters.as_of - due_on).days,
            "amount": float(amount or 0),
        }
        for id_, number, account_id, name, owner, kind, due_on, amount in session.execute(stmt)
    ]
    rows.sort(key=lambda r: (-r["days_overdue"], -r["amount"], r["number"]))
    table = pd.DataFrame(rows, columns=OVERDUE_COLUMNS)
    return Overdue(
        count=len(rows),
        amount=money(sum(r["amount"] for r in rows)),
        accounts=len({r["account_id"] for r in rows if r["account_id"] is not None}),
        invoices=table,
    )


# ---- rent payment volume ------------------------------------------------------------------


def _rent_rows(
    session: Session, filters: DashboardFilters, first: date, last: date
) -> Sequence[Row[int | None, str, str | None, str | None, date, int, int, float]]:
    stmt = scope_accounts(
        select(
            RentPaymentVolume.account_id,
            Account.name,
            Account.owner,
            Account.segment,
            RentPaymentVolume.month,
            RentPaymentVolume.payments_count,
            RentPaymentVolume.failed_count,
            RentPaymentVolume.volume,
        )
        .select_from(RentPaymentVolume)
        .outerjoin(Account, RentPaymentVolume.account_id == Account.id)
        .where(RentPaymentVolume.month >= first, RentPaymentVolume.month < add_months(last, 1)),
        filters,
    )
    return session.execute(stmt).all()


def rent_volume_trend(*, session: Session, filters: DashboardFilters, months: int = 12) -> pd.DataFrame:
    """Per month, for the ``months`` months ending with the last complete month before ``as_of``:
    Σ payments_count, Σ failed_count, Σ volume (USD collected) and success_rate = 1 − Σ failed ÷
    Σ payments (None for a month without payments)."""
    buckets = months_ending(last_complete_month(filters.as_of), months)
    totals = {m: [0, 0, 0.0] for m in buckets}
    for *_, month, payments, failed, volume in _rent_rows(session, filters, buckets[0], buckets[-1]):
        t = totals[month.replace(day=1)]
        t[0] += int(payments or 0)
        t[1] += int(failed or 0)
        t[2] += float(volume or 0)
    return pd.DataFrame(
        [
            {"month": m, "payments": p, "failed": f, "volume": money(v), "success_rate": _success_rate(p, f)}
            for m, (p, f, v) in totals.items()
        ],
        columns=RENT_TREND_COLUMNS,
    )


@dataclass(frozen=True)
class RentMonth:
    """One month of rent processing across the scoped customers."""

    month: date
    payments: int
    failed: int
    volume: float
    success_rate: float | None
    previous_volume: float  # the month before, for a delta
    previous_success_rate: float | None


def rent_last_month(*, session: Session, filters: DashboardFilters) -> RentMonth:
    """Rent volume and success rate for the last complete month before ``as_of``, with the month before."""
    trend = rent_volume_trend(session=session, filters=filters, months=2)
    prev, last = trend.iloc[0], trend.iloc[1]
    return RentMonth(
        month=last["month"],
        payments=int(last["payments"]),
        failed=int(last["failed"]),
        volume=float(last["volume"]),
        success_rate=_success_rate(int(last["payments"]), int(last["failed"])),
        previous_volume=float(prev["volume"]),
        previous_success_rate=_success_rate(int(prev["payments"]), int(prev["failed"])),
    )


def rent_volume_by_customer(*, session: Session, filters: DashboardFilters, month: date | None = None) -> pd.DataFrame:
    """Per customer for one month (default: the last complete month before ``as_of``): payments,
    failed, volume and success rate. Largest volume first."""
    month = (month or last_complete_month(filters.as_of)).replace(day=1)
    per: dict[int | None, dict] = defaultdict(lambda: {"payments": 0, "failed": 0, "volume": 0.0})
    for account_id, name, owner, segment, _, payments, failed, volume in _rent_rows(session, filters, month, month):
        row = per[account_id]
        row.update(account_id=account_id, account=name, owner=owner, segment=segment)
        row["payments"] += int(payments or 0)
        row["failed"] += int(failed or 0)
        row["volume"] += float(volume or 0)
    rows = [
        {**r, "volume": money(r["volume"]), "success_rate": _success_rate(r["payments"], r["failed"])}
        for r in per.values()
    ]
    rows.sort(key=lambda r: (-r["volume"], r["account"] or ""))
    return pd.DataFrame(rows, columns=RENT_CUSTOMER_COLUMNS)


def customers_with_payment_issues(
    *, session: Session, filters: DashboardFilters, below: float = PAYMENT_ISSUE_SUCCESS_RATE
) -> pd.DataFrame:
    """Customers whose rent payment success rate in the last complete month was below ``below``;
    lowest success rate first."""
    table = rent_volume_by_customer(session=session, filters=filters)
    issues = table[table["success_rate"].notna() & (table["success_rate"] < below)]
    return issues.sort_values(["success_rate", "account"], kind="stable").reset_index(drop=True)
