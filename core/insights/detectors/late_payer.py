"""``late_payer``: at least ``late_min`` of an account's last ``last_n`` subscription invoices were paid late
(``paid_on`` after ``due_on``) or are open past their due date.

The last invoices are taken by ``period_start`` (the month of service; the issue date where it is missing),
the current month's included, as the demo's truth (``chronic_late_payers``) counts them. Void invoices were
never owed and do not count.

Severity: high from ``late_min + 1`` late invoices, or when an open invoice is ``overdue_days_high`` days past
due; medium otherwise. Score: the share of the last invoices that are late. One finding per account: it holds
as long as the pattern does.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import Row, select

from core.db.models import Account, Invoice
from core.insights.detectors._finance import accounts_by_id, month_label
from core.insights.findings import DetectContext, Evidence, Finding, account_finding

TYPE = "late_payer"
DESCRIPTION = "At least `late_min` of an account's last `last_n` subscription invoices paid late or overdue."
DEFAULTS = {"late_min": 3, "last_n": 6, "overdue_days_high": 60}
InvoiceRow = Row[Any]  # an invoice's COLUMNS, by name
COLUMNS = (
    "id",
    "external_id",
    "number",
    "account_id",
    "period_start",
    "issued_on",
    "due_on",
    "paid_on",
    "status",
    "amount",
)


def detect(ctx: DetectContext) -> list[Finding]:
    late_min, last_n = int(ctx.params["late_min"]), max(1, int(ctx.params["last_n"]))
    hits: list[tuple[int, list[InvoiceRow], list[InvoiceRow]]] = []
    for account_id, invoices in _subscription_invoices(ctx).items():
        invoices.sort(key=lambda i: (i.period_start or i.issued_on, i.issued_on, i.id))
        last = invoices[-last_n:]
        late = [i for i in last if days_late(i, ctx.today) is not None]
        if len(late) >= late_min:
            hits.append((account_id, last, late))
    accounts = accounts_by_id(ctx.session, (a for a, _, _ in hits))
    return [_finding(ctx, accounts[account_id], last, late) for account_id, last, late in hits]


def _subscription_invoices(ctx: DetectContext) -> dict[int, list[InvoiceRow]]:
    """Every account's subscription invoices that are not void, as rows (not objects with their raw payload:
    there are 100k+ of them on a large book)."""
    q = select(*(getattr(Invoice, c) for c in COLUMNS)).where(
        Invoice.kind == "subscription", Invoice.status != "void", Invoice.account_id.is_not(None)
    )
    by_account: dict[int, list[InvoiceRow]] = defaultdict(list)
    for inv in ctx.session.execute(q):
        assert inv.account_id is not None  # the WHERE clause
        by_account[inv.account_id].append(inv)
    return by_account


def _reasons(ctx: DetectContext, last: list[InvoiceRow], late: list[InvoiceRow]) -> list[str]:
    today = ctx.today
    paid_late = [i for i in late if i.paid_on is not None]
    overdue = [i for i in late if i.paid_on is None]
    reasons = [
        f"{len(late)} of the last {len(last)} subscription invoices ({_period(last[0])} – {_period(last[-1])}) "
        f"paid late or overdue (threshold {int(ctx.params['late_min'])} of {max(1, int(ctx.params['last_n']))})."
    ]
    if paid_late:
        spread = sorted(days_late(i, today) or 0 for i in paid_late)
        reasons.append(
            f"{len(paid_late)} paid late by "
            + (f"{spread[0]} days." if len(spread) == 1 else f"{spread[0]}–{spread[-1]} days.")
        )
    if overdue:
        worst = max(days_late(i, today) or 0 for i in overdue)
        reasons.append(
            f"{len(overdue)} open past due (${sum(i.amount for i in overdue):,.0f}), the oldest {worst} days."
        )
    return reasons


def _finding(ctx: DetectContext, acct: Account, last: list[InvoiceRow], late: list[InvoiceRow]) -> Finding:
    today, late_min = ctx.today, int(ctx.params["late_min"])
    overdue = [i for i in late if i.paid_on is None]
    worst_overdue = max((days_late(i, today) or 0 for i in overdue), default=0)
    high = len(late) > late_min or worst_overdue >= int(ctx.params["overdue_days_high"])
    return account_finding(
        TYPE,
        acct,
        severity="high" if high else "medium",
        title=f"{acct.name} paid {len(late)} of its last {len(last)} invoices late",
        score=min(1.0, len(late) / len(last)),
        reasons=_reasons(ctx, last, late),
        evidence=[Evidence("invoices", i.external_id, label=_label(i, today), id=i.id) for i in late],
        details={
            "late": len(late),
            "invoices": len(last),
            "threshold_late": late_min,
            "last_n": max(1, int(ctx.params["last_n"])),
            "late_invoices": [i.number for i in late],
            "open_overdue_amount": round(sum(i.amount for i in overdue), 2),
            "series": {
                "label": "Days paid late",
                "unit": "days",
                "points": [[i.period_start or i.issued_on, days_late(i, today) or 0] for i in last],
            },
        },
    )


def days_late(inv: InvoiceRow, today: date) -> int | None:
    """How many days after its due date an invoice was paid, or is still open; None when it is not late."""
    if inv.paid_on is not None and inv.paid_on > inv.due_on:
        return (inv.paid_on - inv.due_on).days
    if inv.status == "open" and inv.due_on < today:
        return (today - inv.due_on).days
    return None


def _period(inv: InvoiceRow) -> str:
    return month_label(inv.period_start or inv.issued_on)


def _label(inv: InvoiceRow, today: date) -> str:
    late = days_late(inv, today)
    when = f"paid {inv.paid_on:%Y-%m-%d}" if inv.paid_on is not None else "open"
    return f"Invoice {inv.number} ({_period(inv)}), due {inv.due_on:%Y-%m-%d}, {when}: {late} days late"
