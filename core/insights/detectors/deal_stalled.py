"""``deal_stalled``: an open deal that has sat in the same stage for ``days`` or more."""

from __future__ import annotations

from sqlalchemy import select

from core.db.models import Account, Deal
from core.insights.detectors._deals import attach_touches
from core.insights.findings import DetectContext, Evidence, Finding, Subject, severity_from
from core.metrics.stages import OPEN_STAGES, label

TYPE = "deal_stalled"
DESCRIPTION = "An open deal in the same stage for at least `days` days."
DEFAULTS = {"days": 21, "large_deal_amount": 50_000.0}


def detect(ctx: DetectContext) -> list[Finding]:
    days = int(ctx.params["days"])
    cutoff = ctx.days_ago(days)
    q = (
        select(Deal, Account.name)
        .outerjoin(Account, Account.id == Deal.account_id)
        .where(Deal.stage.in_(OPEN_STAGES), Deal.stage_entered_at.is_not(None), Deal.stage_entered_at <= cutoff)
    )
    findings = []
    for deal, account_name in ctx.session.execute(q):
        assert deal.stage_entered_at is not None  # the WHERE clause
        in_stage = (ctx.now - deal.stage_entered_at).total_seconds() / 86_400
        large = deal.amount >= float(ctx.params["large_deal_amount"])
        ratio = in_stage / days
        severity = severity_from(ratio, bands=((3.0, "high"), (2.0, "high" if large else "medium")), default="medium")
        reasons = [
            f"In {label(deal.stage)} for {in_stage:.0f} days (threshold {days} days), since "
            f"{deal.stage_entered_at:%Y-%m-%d}.",
            f"Amount ${deal.amount:,.0f}"
            + (f", expected to close {deal.close_date:%Y-%m-%d}." if deal.close_date else "."),
        ]
        evidence = [Evidence("deals", deal.external_id, label=f"Deal {deal.name}", id=deal.id)]
        findings.append(
            Finding(
                type=TYPE,
                subject=Subject("deals", deal.external_id, deal.name, deal.id),
                severity=severity,
                title=f"{deal.name} has been in {label(deal.stage)} for {in_stage:.0f} days",
                score=min(1.0, ratio / 3),
                reasons=reasons,
                evidence=evidence,
                account_id=deal.account_id,
                owner=deal.owner,
                details={
                    "stage": deal.stage,
                    "days_in_stage": round(in_stage, 1),
                    "threshold_days": days,
                    "amount": deal.amount,
                    "account": account_name,
                },
                key=f"{deal.stage}@{deal.stage_entered_at:%Y-%m-%d}",  # a new stalled spell is a new finding
            )
        )
    return attach_touches(ctx, findings)
