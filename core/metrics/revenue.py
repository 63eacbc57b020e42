"""Recurring-revenue metrics: current ARR, the ARR trend and trailing-12-month retention.

MRR comes from subscription invoices: an invoice of kind ``subscription`` bills one service month
(``period_start``) and its amount is that month's MRR. Void invoices are not revenue and are left
out; open and paid ones count. An account's MRR for a month is the sum of its subscription
invoices for that month (0 when there are none).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import Account, Invoice
from core.metrics.filters import (
    DashboardFilters,
    add_months,
    last_complete_month,
    money,
    months_ending,
    scope_accounts,
)

SUBSCRIPTION = "subscription"
VOID = "void"
ARR_COLUMNS = ["month", "mrr", "arr", "accounts"]


@dataclass(frozen=True)
class CurrentArr:
    """Σ ``arr`` of accounts whose lifecycle stage is ``live`` (the CRM's current view)."""

    arr: float
    live_accounts: int


def current_arr(*, session: Session, filters: DashboardFilters) -> CurrentArr:
    stmt = scope_accounts(
        select(func.count(Account.id), func.sum(Account.arr)).where(Account.lifecycle_stage == "live"), filters
    )
    count, total = session.execute(stmt).one()
    return CurrentArr(money(float(total or 0)), int(count or 0))


def mrr_by_account(
    *, session: Session, filters: DashboardFilters, first: date, last: date
) -> dict[date, dict[int | None, float]]:
    """month -> {account id -> MRR} for the months ``first``..``last`` (month starts, inclusive).

    Invoices without an account are kept under the key None, and only when no owner/segment filter
    is set (they count in the ARR trend, not in retention)."""
    stmt = (
        select(Invoice.account_id, Invoice.period_start, func.sum(Invoice.amount))
        .select_from(Invoice)
        .outerjoin(Account, Invoice.account_id == Account.id)
        .where(
            Invoice.kind == SUBSCRIPTION,
            Invoice.status != VOID,
            Invoice.period_start >= first,
            Invoice.period_start < add_months(last, 1),
        )
        .group_by(Invoice.account_id, Invoice.period_start)
    )
    out: dict[date, dict[int | None, float]] = defaultdict(lambda: defaultdict(float))
    for account_id, period_start, amount in session.execute(scope_accounts(stmt, filters)):
        if period_start is not None:  # the WHERE clause already leaves out invoices without one
            out[period_start.replace(day=1)][account_id] += float(amount or 0)
    return out


def arr_trend(*, session: Session, filters: DashboardFilters, months: int = 12) -> pd.DataFrame:
    """Per month: MRR (Σ subscription invoice amounts with that ``period_start`` month), ARR = 12 × MRR
    and the number of accounts billed, for the ``months`` months ending with the last complete month
    before ``as_of`` (zeros included)."""
    buckets = months_ending(last_complete_month(filters.as_of), months)
    mrr = mrr_by_account(session=session, filters=filters, first=buckets[0], last=buckets[-1])
    rows = []
    for month in buckets:
        per_account = mrr.get(month, {})
        total = sum(per_account.values())
        rows.append(
            {
                "month": month,
                "mrr": money(total),
                "arr": money(12 * total),
                "accounts": sum(1 for v in per_account.values() if v > 0),
            }
        )
    return pd.DataFrame(rows, columns=ARR_COLUMNS)


@dataclass(frozen=True)
class Retention:
    """Trailing-12-month retention from subscription invoices.

    ``month`` is the last complete month before ``as_of``; ``base_month`` is 12 months earlier. The
    cohort is every account with MRR > 0 in ``base_month``.

    - ``nrr`` (net revenue retention) = Σ cohort MRR in ``month`` ÷ Σ cohort MRR in ``base_month``
      (expansion counts, accounts won after ``base_month`` do not);
    - ``grr`` (gross revenue retention) = Σ min(MRR now, MRR then) ÷ Σ MRR then;
    - ``logo_churn`` = cohort accounts with no MRR in ``month`` ÷ cohort accounts;
    - ``revenue_churn`` = the base-month MRR of those churned accounts ÷ Σ cohort MRR then.

    Ratios are None when the cohort is empty.
    """

    month: date
    base_month: date
    cohort_accounts: int
    churned_accounts: int
    base_mrr: float
    current_mrr: float
    churned_mrr: float
    nrr: float | None
    grr: float | None
    logo_churn: float | None
    revenue_churn: float | None


def retention(*, session: Session, filters: DashboardFilters) -> Retention:
    return retention_trend(session=session, filters=filters, months=1)[-1]


def retention_trend(*, session: Session, filters: DashboardFilters, months: int = 2) -> list[Retention]:
    """Trailing-12-month retention as of each of the ``months`` months ending with the last complete month
    before ``as_of``, oldest first: the last is :func:`retention`, the one before it is the previous period
    (the dashboard's trend and good/bad signal). One query over ``months + 12`` months."""
    buckets = months_ending(last_complete_month(filters.as_of), months)
    mrr = mrr_by_account(session=session, filters=filters, first=add_months(buckets[0], -12), last=buckets[-1])
    return [_retention(mrr, month) for month in buckets]


def _retention(mrr: dict[date, dict[int | None, float]], month: date) -> Retention:
    base_month = add_months(month, -12)
    then = {a: v for a, v in mrr.get(base_month, {}).items() if a is not None and v > 0}
    now = mrr.get(month, {})
    base = sum(then.values())
    current = sum(now.get(a, 0.0) for a in then)
    kept = sum(min(max(now.get(a, 0.0), 0.0), v) for a, v in then.items())
    churned = [a for a in then if now.get(a, 0.0) <= 0]
    churned_mrr = sum(then[a] for a in churned)
    return Retention(
        month=month,
        base_month=base_month,
        cohort_accounts=len(then),
        churned_accounts=len(churned),
        base_mrr=money(base),
        current_mrr=money(current),
        churned_mrr=money(churned_mrr),
        nrr=_ratio(current, base),
        grr=_ratio(kept, base),
        logo_churn=_ratio(len(churned), len(then)),
        revenue_churn=_ratio(churned_mrr, base),
    )


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None
