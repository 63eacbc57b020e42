"""What the finance detectors share: rent volume per account and month, the accounts they are about, and
how a month and a percentage read in a reason."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.batches import in_batches
from core.db.models import Account, RentPaymentVolume
from core.insights.findings import Evidence
from core.metrics.filters import add_months


@dataclass
class RentMonth:
    """One account's rent processing in one month (the sum of its rows for that month, usually one)."""

    month: date
    payments: int = 0
    failed: int = 0
    volume: float = 0.0
    rows: list[tuple[int, str]] = field(default_factory=list)  # (row id, external id) behind it


def rent_months(session: Session, *, first: date, last: date) -> dict[int, dict[date, RentMonth]]:
    """Rent volume rows of every account for the months ``first`` .. ``last`` (month starts), by account row id
    and month. Rows without an account are left out: a finding is about an account."""
    q = select(
        RentPaymentVolume.id,
        RentPaymentVolume.external_id,
        RentPaymentVolume.account_id,
        RentPaymentVolume.month,
        RentPaymentVolume.payments_count,
        RentPaymentVolume.failed_count,
        RentPaymentVolume.volume,
    ).where(
        RentPaymentVolume.account_id.is_not(None),
        RentPaymentVolume.month >= first,
        RentPaymentVolume.month < add_months(last, 1),
    )
    out: dict[int, dict[date, RentMonth]] = defaultdict(dict)
    for row_id, ext, account_id, month, payments, failed, volume in session.execute(q):
        if account_id is None:  # the WHERE clause
            continue
        start = month.replace(day=1)
        m = out[account_id].setdefault(start, RentMonth(start))
        m.payments += int(payments or 0)
        m.failed += int(failed or 0)
        m.volume += float(volume or 0)
        m.rows.append((row_id, ext))
    return out


def accounts_by_id(session: Session, ids: Iterable[int]) -> dict[int, Account]:
    found: dict[int, Account] = {}
    for part in in_batches(sorted(set(ids))):
        found.update((a.id, a) for a in session.scalars(select(Account).where(Account.id.in_(part))))
    return found


def month_label(month: date) -> str:
    return f"{month:%b %Y}"


def signed_pct(change: float) -> str:
    """A relative change as the reasons write it: −43 % (a real minus sign), +12 %."""
    pct = round(100 * change)
    return f"{'−' if pct < 0 else '+'}{abs(pct)} %"


def rent_evidence(
    months: dict[date, RentMonth], shown: Iterable[date], label: Callable[[date, RentMonth], str]
) -> list[Evidence]:
    """The rent volume rows behind ``shown`` months, in that order, each labelled by ``label(month, totals)``."""
    return [
        Evidence("rent_payment_volumes", ext, label=label(m, months[m]), id=row_id)
        for m in shown
        for row_id, ext in months[m].rows
    ]
