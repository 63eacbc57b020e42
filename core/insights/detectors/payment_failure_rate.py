"""``payment_failure_rate``: in the last full month more than ``rate`` of an account's rent payments failed
(``failed_count / payments_count`` of its rent volume rows), over at least ``min_payments`` payments.

"Last full month" is the calendar month before the detection day's month, as the demo's truth
(``high_failure_rate``) counts it.

Severity by the rate: critical from 20 %, high from 10 %, else medium. Score: the rate / 20 %, at most 1.
One finding per account and month (``key`` the month).
"""

from __future__ import annotations

from datetime import date

from core.db.models import Account
from core.insights.detectors._finance import RentMonth, accounts_by_id, month_label, rent_evidence, rent_months
from core.insights.findings import DetectContext, Finding, account_finding, account_line, severity_from
from core.metrics.filters import add_months, last_complete_month

TYPE = "payment_failure_rate"
DESCRIPTION = "More than `rate` of an account's rent payments failed in the last full month."
DEFAULTS = {"rate": 0.05, "min_payments": 1, "chart_months": 12}
SEVERITY_BANDS = ((0.20, "critical"), (0.10, "high"))


def detect(ctx: DetectContext) -> list[Finding]:
    threshold = float(ctx.params["rate"])
    min_payments = max(1, int(ctx.params["min_payments"]))
    chart = max(2, int(ctx.params["chart_months"]))
    last = last_complete_month(ctx.today)
    by_account = rent_months(ctx.session, first=add_months(last, -(chart - 1)), last=last)
    hits = {
        account_id: months
        for account_id, months in by_account.items()
        if last in months
        and months[last].payments >= min_payments
        and months[last].failed / months[last].payments > threshold
    }
    accounts = accounts_by_id(ctx.session, hits)
    return [_finding(ctx, accounts[account_id], months, last) for account_id, months in hits.items()]


def _finding(ctx: DetectContext, acct: Account, months: dict[date, RentMonth], last: date) -> Finding:
    threshold = float(ctx.params["rate"])
    now = months[last]
    rate = now.failed / now.payments
    earlier = [m for m in sorted(months) if m < last][-3:]
    reasons = [
        f"{now.failed:,} of {now.payments:,} rent payments failed in {month_label(last)}: {100 * rate:.1f} % "
        f"(threshold {100 * threshold:.1f} %)."
    ]
    if earlier:
        failed, payments = sum(months[m].failed for m in earlier), sum(months[m].payments for m in earlier)
        if payments:
            reasons.append(
                f"{len(earlier)} months before ({month_label(earlier[0])} – {month_label(earlier[-1])}): "
                f"{100 * failed / payments:.1f} % ({failed:,} of {payments:,})."
            )
    if acct.arr:
        reasons.append(account_line(acct.arr, acct.owner))
    evidence = rent_evidence(
        months,
        (last, *reversed(earlier)),
        lambda m, t: f"Rent payments {month_label(m)}: {t.failed:,} failed of {t.payments:,}",
    )
    return account_finding(
        TYPE,
        acct,
        severity=severity_from(rate, bands=SEVERITY_BANDS, default="medium"),
        title=f"{acct.name}: {100 * rate:.1f} % of rent payments failed in {month_label(last)}",
        score=min(1.0, rate / 0.2),
        reasons=reasons,
        evidence=evidence,
        details={
            "month": last,
            "failed": now.failed,
            "payments": now.payments,
            "failure_rate": round(rate, 4),
            "threshold_rate": threshold,
            "series": {
                "label": "Failed rent payments",
                "unit": "%",
                "points": [
                    [m, round(100 * months[m].failed / months[m].payments, 2)]
                    for m in sorted(months)
                    if m <= last and months[m].payments
                ],
            },
        },
        key=f"{last:%Y-%m}",
    )
