"""``payment_volume_drop``: an account's rent volume in the last full month fell below ``ratio`` x the mean of
the ``baseline_months`` months before it (each of those months present).

"Last full month" is the calendar month before the detection day's month (``filters.last_complete_month``),
as the dashboard and the demo's truth (``payment_volume_drops``) count it.

Severity by the size of the drop: critical from 50 %, high from 30 %, else medium. Score: the drop / 50 %,
at most 1. One finding per account and month (``key`` the month).
"""

from __future__ import annotations

from datetime import date

from core.db.models import Account
from core.insights.detectors._finance import (
    RentMonth,
    accounts_by_id,
    month_label,
    rent_evidence,
    rent_months,
    signed_pct,
)
from core.insights.findings import DetectContext, Finding, account_finding, account_line, severity_from
from core.metrics.filters import add_months, last_complete_month

TYPE = "payment_volume_drop"
DESCRIPTION = (
    "An account's rent volume in the last full month is below `ratio` x the mean of the `baseline_months` "
    "months before it."
)
DEFAULTS = {"ratio": 0.85, "baseline_months": 3, "chart_months": 12}
SEVERITY_BANDS = ((0.5, "critical"), (0.3, "high"))  # by the drop (1 - last / mean)


def detect(ctx: DetectContext) -> list[Finding]:
    ratio = float(ctx.params["ratio"])
    n = max(1, int(ctx.params["baseline_months"]))
    chart = max(n + 1, int(ctx.params["chart_months"]))
    last = last_complete_month(ctx.today)
    prior = [add_months(last, -k) for k in range(1, n + 1)]  # newest first
    by_account = rent_months(ctx.session, first=add_months(last, -(chart - 1)), last=last)
    hits = []
    for account_id, months in by_account.items():
        if last not in months or any(p not in months for p in prior):
            continue
        mean = sum(months[p].volume for p in prior) / n
        volume = months[last].volume
        if mean > 0 and volume < ratio * mean:
            hits.append((account_id, months, mean))
    accounts = accounts_by_id(ctx.session, (a for a, _, _ in hits))
    return [_finding(ctx, accounts[account_id], months, last, prior, mean) for account_id, months, mean in hits]


def _finding(
    ctx: DetectContext, acct: Account, months: dict[date, RentMonth], last: date, prior: list[date], mean: float
) -> Finding:
    ratio, n = float(ctx.params["ratio"]), len(prior)
    volume = months[last].volume
    change = volume / mean - 1
    drop = -change
    first_prior, last_prior = prior[-1], prior[0]
    reasons = [
        f"Rent volume {volume:,.0f} in {month_label(last)} vs {mean:,.0f} {n}-month mean "
        f"({month_label(first_prior)} – {month_label(last_prior)}): {signed_pct(change)} "
        f"(threshold {signed_pct(ratio - 1)}).",
        "Months before: " + ", ".join(f"{month_label(p)} {months[p].volume:,.0f}" for p in reversed(prior)) + ".",
    ]
    if acct.arr:
        reasons.append(account_line(acct.arr, acct.owner))
    evidence = rent_evidence(
        months,
        (last, *prior),
        lambda m, t: f"Rent volume {month_label(m)}: {t.volume:,.0f} USD, {t.payments:,} payments",
    )
    return account_finding(
        TYPE,
        acct,
        severity=severity_from(drop, bands=SEVERITY_BANDS, default="medium"),
        title=f"{acct.name}: rent volume down {round(100 * drop)} % in {month_label(last)}",
        score=min(1.0, drop / 0.5),
        reasons=reasons,
        evidence=evidence,
        details={
            "month": last,
            "volume": round(volume, 2),
            "baseline_mean": round(mean, 2),
            "baseline_months": prior[::-1],
            "change_pct": round(100 * change, 1),
            "threshold_ratio": ratio,
            "series": {
                "label": "Rent volume",
                "unit": "USD",
                "points": [[m, round(months[m].volume, 2)] for m in sorted(months) if m <= last],
            },
        },
        key=f"{last:%Y-%m}",
    )
