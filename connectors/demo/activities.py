"""HubSpot activities: the emails, meetings, notes and tasks around deals and customers."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.demo import names
from connectors.demo.accounts import Acct, Contact
from connectors.demo.activity_text import render_activity
from connectors.demo.common import Clock, fmt_money, rng_for
from connectors.demo.finance import Inv
from connectors.demo.people import Emp, Staff
from connectors.demo.pipeline import DealPlan
from connectors.demo.sizes import SizeSpec

LOOKBACK_DAYS = 400
CUSTOMER_DAYS = 180
STAGE_TOPIC = {
    "lead": "outreach",
    "qualified": "follow_up",
    "discovery": "discovery",
    "demo": "demo",
    "proposal": "proposal",
    "negotiation": "negotiation",
    "closed_won": "won",
    "closed_lost": "lost",
}
KIND_WEIGHTS = {"email": 45, "meeting": 20, "note": 20, "task": 15}
TOPIC_KINDS = {
    "outreach": ("email",),
    "late_invoice": ("email",),
    "won": ("note", "email"),
    "lost": ("note",),
    "churn": ("note",),
    "qbr": ("meeting", "email"),
    "discovery": ("meeting", "note"),
}


@dataclass(slots=True)
class ActPlan:
    ext_id: str
    acct: Acct
    contact: Contact | None
    deal: DealPlan | None
    kind: str
    topic: str
    occurred_at: datetime
    owner: Emp
    invoice: Inv | None = None


class ActMaker:
    def __init__(self, seed: int, clock: Clock, acct: Acct) -> None:
        self.clock, self.acct = clock, acct
        self.rng = rng_for(seed, "activities", acct.ext_id)

    def make(
        self, topic: str, at: datetime, owner: Emp, deal: DealPlan | None = None, invoice: Inv | None = None
    ) -> ActPlan:
        kinds = TOPIC_KINDS.get(topic) or tuple(KIND_WEIGHTS)
        kind = self.rng.choices(kinds, weights=[KIND_WEIGHTS[k] for k in kinds])[0]
        contacts = self.acct.contacts
        contact = self.acct.champion if self.acct.champion and self.rng.random() < 0.6 else self.rng.choice(contacts)
        return ActPlan("", self.acct, contact, deal, kind, topic, at, owner, invoice)


def schedule_activities(
    *,
    seed: int,
    clock: Clock,
    spec: SizeSpec,
    staff: Staff,
    accts: list[Acct],
    deals: list[DealPlan],
    late: dict[str, list[Inv]],
) -> list[ActPlan]:
    by_acct: dict[int, list[DealPlan]] = {}
    for d in deals:
        by_acct.setdefault(d.acct.idx, []).append(d)
    plans: list[ActPlan] = []
    for acct in accts:
        maker = ActMaker(seed, clock, acct)
        acct_deals = by_acct.get(acct.idx, [])
        plans += _deal_activities(maker, staff, acct_deals)
        if acct.is_customer:
            plans += _customer_activities(maker, spec, acct_deals)
            plans += _dunning(maker, staff, late.get(acct.ext_id, []))
        elif not acct_deals:
            plans += _outreach(maker, staff)
    return [p for p in plans if p.occurred_at < clock.now and clock.days_before(p.occurred_at) <= LOOKBACK_DAYS]


def _deal_activities(maker: ActMaker, staff: Staff, deals: list[DealPlan]) -> list[ActPlan]:
    rng, plans = maker.rng, []
    for deal in deals:
        for stage, entered in deal.history:
            owner = rng.choice(staff.role("sdr")) if stage == "lead" else deal.owner
            at = maker.clock.workday(rng, entered + timedelta(hours=rng.randint(1, 50)))
            plans.append(maker.make(STAGE_TOPIC[stage], at, owner, deal))
        if deal.stalled:
            at = maker.clock.workday(rng, deal.stage_entered_at + timedelta(days=rng.randint(6, 12)))
            plans.append(maker.make("nudge", at, deal.owner, deal))
    return plans


def _customer_activities(maker: ActMaker, spec: SizeSpec, deals: list[DealPlan]) -> list[ActPlan]:
    acct, clock, rng = maker.acct, maker.clock, maker.rng
    start = max(acct.signed_at, clock.now - timedelta(days=CUSTOMER_DAYS))
    end = clock.on(acct.churned_on, 12 * 60) if acct.churned_on else clock.now
    plans = []
    day = start + timedelta(days=rng.randint(1, 8))
    while day < end:
        at = clock.moment_on(rng, day.date())
        plans.append(maker.make(_customer_topic(rng, clock, acct, deals, at), at, _owner(rng, acct)))
        day += timedelta(days=max(2, round(rng.randint(9, 21) / spec.talk)))
    if acct.churned_on and clock.days_before(acct.churned_on) <= LOOKBACK_DAYS:
        plans.append(maker.make("churn", clock.moment_on(rng, acct.churned_on), acct.owner))
    return plans


def _customer_topic(rng: random.Random, clock: Clock, acct: Acct, deals: list[DealPlan], at: datetime) -> str:
    if acct.lifecycle == "onboarding":
        return "onboarding"
    recent = clock.days_before(at) <= 35
    options = ["check_in", "check_in", "qbr"]
    if "high_failure" in acct.flags and recent:
        options += ["payments_issue"] * 3
    if any(d.is_open and d.deal_type == "renewal" for d in deals):
        options.append("renewal")
    if any(d.is_open and d.deal_type == "expansion" for d in deals):
        options.append("expansion")
    return rng.choice(options)


def _owner(rng: random.Random, acct: Acct) -> Emp:
    return acct.ae if rng.random() < 0.1 else acct.owner


def _dunning(maker: ActMaker, staff: Staff, late: list[Inv]) -> list[ActPlan]:
    rng, plans = maker.rng, []
    for inv in late:
        at = maker.clock.moment_on(rng, inv.due_on + timedelta(days=rng.randint(2, 8)))
        plans.append(maker.make("late_invoice", at, rng.choice(staff.role("finance")), invoice=inv))
    return plans


def _outreach(maker: ActMaker, staff: Staff) -> list[ActPlan]:
    rng = maker.rng
    sdr = rng.choice(staff.role("sdr"))
    return [maker.make("outreach", maker.clock.moment(rng, rng.randint(1, 150)), sdr) for _ in range(rng.randint(1, 3))]


def activity_record(seed: int, clock: Clock, plan: ActPlan) -> dict:
    rng = rng_for(seed, "activity-text", plan.ext_id)
    subject, body = render_activity(rng, plan.kind, plan.topic, _slots(rng, plan))
    if plan.kind == "task":
        status = "open" if clock.days_before(plan.occurred_at) < 10 and rng.random() < 0.6 else "completed"
    else:
        status = {"email": "sent", "meeting": "completed"}.get(plan.kind)
    rec = {
        "external_id": plan.ext_id,
        "account_ref": plan.acct.ext_id,
        "type": plan.kind,
        "subject": subject,
        "body": body,
        "occurred_at": plan.occurred_at,
        "owner": plan.owner.email,
        "status": status,
        "created_at": plan.occurred_at,
        "updated_at": plan.occurred_at,
    }
    if plan.contact is not None:
        rec["contact_ref"] = plan.contact.ext_id
    if plan.deal is not None:
        rec["deal_ref"] = plan.deal.ext_id
    return rec


def _slots(rng: random.Random, plan: ActPlan) -> dict[str, str]:
    acct = plan.acct
    products = plan.deal.name.split(" — ")[-1] if plan.deal else " and ".join(acct.products or ["ResCenter"])
    missing = [p for p in names.PRODUCTS if p not in acct.products] or ["Buzz"]
    return {
        "first": plan.contact.first if plan.contact else "there",
        "rep": plan.owner.first,
        "account": acct.name,
        "units": f"{acct.units:,}",
        "pms": acct.pms,
        "city": acct.city,
        "products": products,
        "amount": fmt_money(plan.deal.amount if plan.deal else acct.arr),
        "product": rng.choice(missing),
        "month": f"{plan.occurred_at + timedelta(days=45):%B}",
        "last_month": f"{plan.occurred_at.replace(day=1) - timedelta(days=1):%B}",
        "day": rng.choice(("Tuesday", "Thursday", "Friday")),
        "fail_pct": f"{rng.uniform(0.6, 2.4):.1f}%"
        if "high_failure" not in acct.flags
        else f"{rng.uniform(6, 11):.1f}%",
        "invoice": plan.invoice.number if plan.invoice else "",
        "due": f"{plan.invoice.due_on:%b %d}" if plan.invoice else "",
    }
