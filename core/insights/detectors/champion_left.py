"""``champion_left``: a champion contact whose job change (UserGems, or the CRM) took them to another company
in the last ``days`` days. A promotion in place (the new company is the contact's own account) does not count."""

from __future__ import annotations

from sqlalchemy import select

from core.db.models import Account, Contact, Deal, JobChange
from core.insights.findings import DetectContext, Evidence, Finding, Subject, plural
from core.metrics.stages import OPEN_STAGES, label

TYPE = "champion_left"
DESCRIPTION = "A champion contact who moved to another company (a job change detected in the last `days` days)."
DEFAULTS = {"days": 180, "large_arr": 100_000.0}
CUSTOMER_STAGES = ("onboarding", "live")


def same_company(a: str | None, b: str | None) -> bool:
    """Company names equal but for case and spacing."""
    return " ".join((a or "").split()).casefold() == " ".join((b or "").split()).casefold()


def detect(ctx: DetectContext) -> list[Finding]:
    days = int(ctx.params["days"])
    q = (
        select(JobChange, Contact, Account)
        .join(Contact, Contact.id == JobChange.contact_id)
        .outerjoin(Account, Account.id == Contact.account_id)
        .where(
            Contact.is_champion.is_(True),
            JobChange.new_company.is_not(None),
            JobChange.detected_at >= ctx.days_ago(days),
            JobChange.detected_at < ctx.now,
        )
        .order_by(JobChange.detected_at)
    )
    latest: dict[int, tuple[JobChange, Contact, Account | None]] = {}
    for move, contact, acct in ctx.session.execute(q):
        company = acct.name if acct is not None else move.previous_company
        if not same_company(move.new_company, company):
            latest[contact.id] = (move, contact, acct)  # the latest move out wins
    return [_finding(ctx, move, contact, acct, days) for move, contact, acct in latest.values()]


def _finding(ctx: DetectContext, move: JobChange, contact: Contact, acct: Account | None, days: int) -> Finding:
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p) or move.person_name
    company = acct.name if acct is not None else (move.previous_company or "their company")
    ago = (ctx.now - move.detected_at).days
    deals = (
        list(ctx.session.scalars(select(Deal).where(Deal.account_id == acct.id, Deal.stage.in_(OPEN_STAGES))))
        if acct is not None
        else []
    )
    customer = acct is not None and acct.lifecycle_stage in CUSTOMER_STAGES
    large = acct is not None and acct.arr >= float(ctx.params["large_arr"])
    severity = "high" if customer and (deals or large) else "medium" if customer else "low"
    was = f" ({move.previous_title or contact.title})" if (move.previous_title or contact.title) else ""
    now_title = f" as {move.new_title}" if move.new_title else ""
    reasons = [
        f"{name}{was}, a champion at {company}, moved to {move.new_company}{now_title}; "
        f"detected {move.detected_at:%Y-%m-%d}, {ago} days ago (window {days} days).",
    ]
    if acct is not None:
        reasons.append(
            f"{acct.name}: {acct.lifecycle_stage}, ARR ${acct.arr:,.0f}"
            + (f", health {acct.health_score}" if acct.health_score is not None else "")
            + (f"; {plural(len(deals), 'open deal')} without their champion." if deals else ".")
        )
    evidence = [
        Evidence("job_changes", move.external_id, f"Job change: {name} → {move.new_company}", move.id),
        Evidence("contacts", contact.external_id, f"Contact {name}", contact.id),
    ]
    if acct is not None:
        evidence.append(Evidence("accounts", acct.external_id, f"Account {acct.name}", acct.id))
    evidence += [
        Evidence("deals", d.external_id, f"Deal {d.name}, {label(d.stage)}, ${d.amount:,.0f}", d.id) for d in deals[:3]
    ]
    return Finding(
        type=TYPE,
        subject=Subject("contacts", contact.external_id, name, contact.id),
        severity=severity,
        title=f"Champion {name} left {company} for {move.new_company}",
        score=max(0.1, 1.0 - ago / max(days, 1)) * (1.0 if customer else 0.5),
        reasons=reasons,
        evidence=evidence,
        account_id=acct.id if acct is not None else move.account_id,
        owner=acct.owner if acct is not None else None,
        details={
            "contact": name,
            "account": company,
            "new_company": move.new_company,
            "new_title": move.new_title,
            "previous_title": move.previous_title,
            "detected_at": move.detected_at,
            "days_ago": ago,
            "window_days": days,
            "open_deals": [d.external_id for d in deals],
        },
    )
