"""``onboarding_stuck``: an account in onboarding for more than ``days`` days."""

from __future__ import annotations

from sqlalchemy import select

from core.db.models import Account
from core.insights.findings import (
    DetectContext,
    Evidence,
    Finding,
    account_finding,
    account_line,
    severity_from,
)

TYPE = "onboarding_stuck"
DESCRIPTION = "An account in lifecycle stage onboarding for more than `days` days."
DEFAULTS = {"days": 45}


def detect(ctx: DetectContext) -> list[Finding]:
    days = int(ctx.params["days"])
    q = select(Account).where(
        Account.lifecycle_stage == "onboarding",
        Account.stage_changed_at.is_not(None),
        Account.stage_changed_at < ctx.days_ago(days),
    )
    findings = []
    for acct in ctx.session.scalars(q):
        assert acct.stage_changed_at is not None  # the WHERE clause
        waited = (ctx.today - acct.stage_changed_at.date()).days  # calendar days, as the dashboard counts them
        findings.append(
            account_finding(
                TYPE,
                acct,
                severity=severity_from(waited / days, bands=((2.0, "high"), (1.0, "medium"))),
                title=f"{acct.name} has been onboarding for {waited} days",
                score=min(1.0, waited / (3 * days)),
                reasons=[
                    f"In onboarding since {acct.stage_changed_at:%Y-%m-%d}: {waited} days (threshold {days} days).",
                    account_line(acct.arr, acct.owner),
                ],
                evidence=[Evidence("accounts", acct.external_id, label=f"Account {acct.name}", id=acct.id)],
                details={"days_in_onboarding": waited, "threshold_days": days, "since": acct.stage_changed_at},
                key=f"{acct.stage_changed_at:%Y-%m-%d}",
            )
        )
    return findings
