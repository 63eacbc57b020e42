"""``deal_slipping``: an open deal whose expected close date has passed, whose close date moved out
``max_pushes`` times, or that nobody has touched (no call and no activity linked to the deal) for ``quiet_days``
days.

- "Passed": ``close_date`` before the detection day.
- "Quiet": the latest call (``started_at``) or activity (``occurred_at``) linked to the deal is ``quiet_days``
  or more before the detection day; a deal with none is quiet from its ``created_at``. Touches after the
  detection day (a meeting booked ahead) do not count.
- Closed deals (won or lost) never slip.

- "Moved out": ``deals.close_date_pushes``, how many times the CRM's history shows the close date moved later
  (HubSpot's ``propertiesWithHistory.closedate``); a deal from a source without that history has None and is
  judged on the other two.

Severity: high when both hold, when the close date passed ``overdue_days_high`` days ago, when the deal has
been quiet for twice ``quiet_days``, or when its amount is at least ``large_deal_amount``; medium otherwise.
Score: the larger of days overdue / (2 x ``overdue_days_high``) and days quiet / (3 x ``quiet_days``), plus
0.25 when both hold, at most 1. ``key`` is the close date: a deal that slips again after its date moved is a
new finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from core.db.models import Account, Activity, Call, Deal
from core.insights.detectors._deals import attach_touches
from core.insights.findings import DetectContext, Evidence, Finding, Subject
from core.metrics.stages import OPEN_STAGES, label

TYPE = "deal_slipping"
DESCRIPTION = "An open deal whose close date has passed, or with no call or activity for `quiet_days` days."
DEFAULTS = {"quiet_days": 21, "overdue_days_high": 30, "large_deal_amount": 50_000.0, "max_pushes": 2}


@dataclass(frozen=True)
class Slip:
    """How one open deal stands against the three rules."""

    overdue: int  # days past its close date (0 or less: not passed)
    touched: datetime | None  # its latest call or activity before the detection day
    since: datetime  # that, or when the deal was created
    quiet: float  # days since then
    pushes: int  # times its close date moved later
    is_overdue: bool
    is_quiet: bool
    is_pushed: bool

    @property
    def slipping(self) -> bool:
        return self.is_overdue or self.is_quiet or self.is_pushed


def detect(ctx: DetectContext) -> list[Finding]:
    deals = ctx.session.execute(
        select(Deal, Account.name).outerjoin(Account, Account.id == Deal.account_id).where(Deal.stage.in_(OPEN_STAGES))
    ).all()
    last_touch = _last_touches(ctx)
    findings = []
    for deal, account_name in deals:
        slip = _measure(ctx, deal, last_touch.get(deal.id))
        if slip.slipping:
            findings.append(_finding(ctx, deal, account_name, slip))
    return attach_touches(ctx, findings)


def _measure(ctx: DetectContext, deal: Deal, touched: datetime | None) -> Slip:
    overdue = (ctx.today - deal.close_date).days if deal.close_date is not None else 0
    since = touched or deal.created_at
    quiet = (ctx.now - since).total_seconds() / 86_400
    pushes = deal.close_date_pushes or 0
    return Slip(
        overdue=overdue,
        touched=touched,
        since=since,
        quiet=quiet,
        pushes=pushes,
        is_overdue=overdue > 0,
        is_quiet=quiet >= int(ctx.params["quiet_days"]),
        is_pushed=pushes >= max(1, int(ctx.params["max_pushes"])),
    )


def _reasons(ctx: DetectContext, deal: Deal, slip: Slip) -> list[str]:
    reasons = []
    if slip.is_pushed:
        reasons.append(
            f"Close date moved out {slip.pushes} times (threshold {max(1, int(ctx.params['max_pushes']))}); "
            f"now {deal.close_date}."
        )
    if slip.is_overdue:
        assert deal.close_date is not None  # overdue > 0
        reasons.append(
            f"Expected to close {deal.close_date:%Y-%m-%d}: passed {_days(slip.overdue)} ago, still open in "
            f"{label(deal.stage)}."
        )
    if slip.is_quiet:
        since = slip.since
        what = f"last call or activity {since:%Y-%m-%d}" if slip.touched else f"none since created {since:%Y-%m-%d}"
        reasons.append(
            f"No call or activity for {slip.quiet:.0f} days ({what}; threshold {int(ctx.params['quiet_days'])} days)."
        )
    reasons.append(f"Amount ${deal.amount:,.0f}" + (f"; owner {deal.owner}." if deal.owner else "."))
    return reasons


def _why(slip: Slip) -> str:
    if slip.is_overdue and slip.is_quiet:
        return f"{_days(slip.overdue)} past its close date, quiet for {slip.quiet:.0f} days"
    if slip.is_overdue:
        return f"{_days(slip.overdue)} past its close date"
    if slip.is_quiet:
        return f"quiet for {slip.quiet:.0f} days"
    return f"close date moved out {slip.pushes} times"


def _score(ctx: DetectContext, slip: Slip) -> float:
    quiet_days, overdue_high = int(ctx.params["quiet_days"]), int(ctx.params["overdue_days_high"])
    max_pushes = max(1, int(ctx.params["max_pushes"]))
    score = max(slip.overdue / (2 * overdue_high), slip.quiet / (3 * quiet_days) if slip.is_quiet else 0.0)
    score = min(1.0, score + (0.25 if slip.is_overdue and slip.is_quiet else 0.0))
    return max(score, min(1.0, slip.pushes / (2 * max_pushes)) if slip.is_pushed else 0.0)


def _finding(ctx: DetectContext, deal: Deal, account_name: str | None, slip: Slip) -> Finding:
    quiet_days = int(ctx.params["quiet_days"])
    high = (
        (slip.is_overdue and slip.is_quiet)
        or slip.overdue >= int(ctx.params["overdue_days_high"])
        or (slip.is_quiet and slip.quiet >= 2 * quiet_days)
        or deal.amount >= float(ctx.params["large_deal_amount"])
    )
    rules = (
        ("close_date_passed", slip.is_overdue),
        ("no_activity", slip.is_quiet),
        ("close_date_moved_out", slip.is_pushed),
    )
    return Finding(
        type=TYPE,
        subject=Subject("deals", deal.external_id, deal.name, deal.id),
        severity="high" if high else "medium",
        title=f"{deal.name} is slipping: {_why(slip)}",
        score=_score(ctx, slip),
        reasons=_reasons(ctx, deal, slip),
        evidence=[Evidence("deals", deal.external_id, label=f"Deal {deal.name}", id=deal.id)],
        account_id=deal.account_id,
        owner=deal.owner,
        details={
            "stage": deal.stage,
            "amount": deal.amount,
            "account": account_name,
            "close_date": deal.close_date,
            "days_past_close": max(0, slip.overdue),
            "last_touch": slip.touched,
            "days_quiet": round(slip.quiet, 1),
            "threshold_quiet_days": quiet_days,
            "close_date_pushes": slip.pushes,
            "reasons": [rule for rule, on in rules if on],
        },
        key=f"{deal.close_date:%Y-%m-%d}" if deal.close_date else "",
    )


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _last_touches(ctx: DetectContext) -> dict[int, datetime]:
    """The latest call or activity before the detection day of every open deal that has one."""
    latest: dict[int, datetime] = {}
    queries = (
        select(Call.deal_id, func.max(Call.started_at))
        .join(Deal, Deal.id == Call.deal_id)
        .where(Deal.stage.in_(OPEN_STAGES), Call.started_at < ctx.now)
        .group_by(Call.deal_id),
        select(Activity.deal_id, func.max(Activity.occurred_at))
        .join(Deal, Deal.id == Activity.deal_id)
        .where(Deal.stage.in_(OPEN_STAGES), Activity.occurred_at < ctx.now)
        .group_by(Activity.deal_id),
    )
    for q in queries:
        for deal_id, at in ctx.session.execute(q):
            if deal_id is not None and at is not None and (deal_id not in latest or at > latest[deal_id]):
                latest[deal_id] = at
    return latest
