"""Gong calls: when each account talked to PayReady and about what, who ran the call, how it felt,
and the planted talkative reps and competitor mentions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from connectors.demo import names, transcripts
from connectors.demo.accounts import Acct, Contact
from connectors.demo.common import Clock, fmt_money, hubspot_ref, rng_for
from connectors.demo.people import Emp, Staff
from connectors.demo.pipeline import DealPlan
from connectors.demo.sizes import SizeSpec
from connectors.demo.volumes import Month

TITLES = {
    "discovery": "Discovery",
    "demo": "Product demo",
    "renewal": "Renewal discussion",
    "escalation": "Escalation: failed payments",
    "check_in": "Check-in",
}
SENTIMENT = {
    "discovery": (0.1, 0.7),
    "demo": (0.2, 0.85),
    "renewal": (0.0, 0.7),
    "escalation": (-0.8, -0.15),
    "check_in": (0.05, 0.85),
}
LOOKBACK_DAYS = 365
MAX_TALKATIVE_SHARE_OF_REP_CALLS = 0.2  # planted talkative calls per ordinary rep, at most


@dataclass(slots=True)
class CallPlan:
    ext_id: str
    acct: Acct
    deal: DealPlan | None
    call_type: str
    started_at: datetime
    owner: Emp
    contacts: list[Contact]
    colleague: Emp | None
    sentiment: float
    talkative: bool = False
    competitor: str | None = None
    share: float = 0.0  # the owner's share of talk time, from the layout


class CallMaker:
    """Builds call plans for one account with its own random stream."""

    def __init__(self, seed: int, clock: Clock, staff: Staff, spec: SizeSpec, acct: Acct) -> None:
        self.clock, self.staff, self.spec, self.acct = clock, staff, spec, acct
        self.rng = rng_for(seed, "calls", acct.ext_id)

    def call(
        self,
        call_type: str,
        at: datetime,
        owner: Emp,
        deal: DealPlan | None = None,
        sentiment: tuple[float, float] | None = None,
    ) -> CallPlan:
        rng = self.rng
        contacts = self._contacts(call_type)
        colleague = None
        if call_type == "escalation":
            colleague = rng.choice(self.staff.role("payments_ops") + self.staff.role("support"))
        elif call_type == "demo" and rng.random() < 0.6 or call_type == "discovery" and rng.random() < 0.15:
            colleague = rng.choice(self.staff.role("se"))
        lo, hi = sentiment or SENTIMENT[call_type]
        return CallPlan("", self.acct, deal, call_type, at, owner, contacts, colleague, round(rng.uniform(lo, hi), 2))

    def _contacts(self, call_type: str) -> list[Contact]:
        people = self.acct.contacts
        first = self.acct.champion or self.rng.choice(people)
        others = [c for c in people if c is not first]
        if others and call_type != "check_in" and self.rng.random() < 0.4:
            return [first, self.rng.choice(others)]
        return [first]

    def at_day(self, d: date) -> datetime | None:
        return self.clock.moment_on(self.rng, d) if d < self.clock.as_of else None


def schedule_calls(
    *, seed: int, clock: Clock, spec: SizeSpec, staff: Staff, accts: list[Acct], deals: list[DealPlan]
) -> list[CallPlan]:
    by_acct: dict[int, list[DealPlan]] = {}
    for d in deals:
        by_acct.setdefault(d.acct.idx, []).append(d)
    plans: list[CallPlan] = []
    for acct in accts:
        maker = CallMaker(seed, clock, staff, spec, acct)
        plans += _deal_calls(maker, by_acct.get(acct.idx, []))
        if acct.is_customer:
            plans += _check_ins(maker) + _escalations(maker)
    return [p for p in plans if clock.days_before(p.started_at) <= LOOKBACK_DAYS]


def _deal_calls(maker: CallMaker, deals: list[DealPlan]) -> list[CallPlan]:
    """A renewal call before each renewal decision; discovery and demo calls when a deal enters those stages."""
    plans, rng = [], maker.rng
    for deal in deals:
        if deal.deal_type == "renewal":
            anchor = deal.history[0][1] if deal.is_open else deal.stage_entered_at
            at = maker.at_day(anchor.date() - timedelta(days=rng.randint(1 if deal.is_open else 3, 20)))
            mood = (-0.7, -0.2) if deal.stage == "closed_lost" else None
            plans += [maker.call("renewal", at, maker.acct.owner, deal, mood)] if at else []
            continue
        for stage in ("discovery", "demo"):
            entered = deal.entered(stage)
            at = maker.at_day(entered.date() + timedelta(days=rng.randint(0, 2))) if entered else None
            if at is not None:
                plans.append(maker.call(stage, at, deal.owner, deal))
    return plans


def _check_ins(maker: CallMaker) -> list[CallPlan]:
    acct, clock, rng = maker.acct, maker.clock, maker.rng
    start = max(acct.customer_since, clock.day(LOOKBACK_DAYS))
    end = acct.churned_on or clock.as_of
    if acct.lifecycle == "onboarding":
        gap, mood = (7, 14), ((-0.4, 0.2) if "stuck" in acct.flags else (0.2, 0.8))
        end = clock.day(rng.randint(22, 35)) if "stuck" in acct.flags else end
    else:
        gap, mood = (25, 55), ((-0.5, 0.2) if acct.lifecycle == "churned" else None)
    plans, day = [], start + timedelta(days=rng.randint(1, 10))
    while day < end:
        at = maker.at_day(day)
        if at:
            plans.append(maker.call("check_in", at, acct.owner, sentiment=mood))
        day += timedelta(days=max(3, round(rng.randint(*gap) / maker.spec.talk)))
    return plans


def _escalations(maker: CallMaker) -> list[CallPlan]:
    acct, clock, rng = maker.acct, maker.clock, maker.rng
    days = []
    if "high_failure" in acct.flags:
        days.append(rng.randint(3, 15))
    if acct.lifecycle == "live" and rng.random() < 0.10:
        days.append(rng.randint(16, min(LOOKBACK_DAYS, (clock.as_of - acct.go_live).days)))
    return [maker.call("escalation", clock.moment(rng, d), acct.owner) for d in days]


# ---- planted patterns over all calls ------------------------------------------------------------


def plant_talkers(*, seed: int, spec: SizeSpec, plans: list[CallPlan]) -> list[Emp]:
    """Whole reps who dominate their calls, plus a few single talkative calls by other reps."""
    rng = rng_for(seed, "talkers")
    by_rep: dict[str, list[CallPlan]] = {}
    for p in plans:
        by_rep.setdefault(p.owner.email, []).append(p)
    eligible = sorted(email for email, calls in by_rep.items() if len(calls) >= 5)
    talkers = rng.sample(eligible, k=min(spec.talkative_reps, len(eligible)))
    for email in talkers:
        for p in by_rep[email]:
            p.talkative = True
    others = [p for p in plans if p.owner.email not in talkers]
    budget = {email: int(len(calls) * MAX_TALKATIVE_SHARE_OF_REP_CALLS) for email, calls in by_rep.items()}
    for p in rng.sample(others, k=min(spec.plants * 2, len(others))):
        if budget[p.owner.email] > 0:
            p.talkative = True
            budget[p.owner.email] -= 1
    return [by_rep[email][0].owner for email in talkers]


def plant_competitors(*, seed: int, spec: SizeSpec, plans: list[CallPlan]) -> None:
    rng = rng_for(seed, "competitors")
    pool = [p for p in plans if p.call_type in ("discovery", "demo", "renewal")]
    for p in rng.sample(pool, k=min(spec.plants * 2, len(pool))):
        p.competitor = rng.choice(names.COMPETITORS)


def measure_shares(seed: int, plans: list[CallPlan]) -> None:
    for p in plans:
        p.share = transcripts.shares(transcripts.layout(seed, p))[0]


# ---- records -------------------------------------------------------------------------------------


def call_record(seed: int, plan: CallPlan, series: list[Month] | None) -> dict:
    participants, segments, duration = transcripts.render(seed, plan, _slots(seed, plan, series))
    title = (
        "Onboarding check-in"
        if plan.call_type == "check_in" and plan.acct.lifecycle == "onboarding"
        else TITLES[plan.call_type]
    )
    rec = {
        "external_id": plan.ext_id,
        "account_ref": hubspot_ref(plan.acct.ext_id),
        "title": f"{plan.acct.name} <> PayReady — {title}",
        "call_type": plan.call_type,
        "started_at": plan.started_at,
        "duration_s": duration,
        "owner": plan.owner.email,
        "sentiment": plan.sentiment,
        "url": f"https://app.gong.io/call?id={plan.ext_id}",
        "participants": participants,
        "segments": segments,
        "created_at": plan.started_at,
        "updated_at": plan.started_at + timedelta(seconds=duration),
    }
    if plan.deal is not None:
        rec["deal_ref"] = hubspot_ref(plan.deal.ext_id)
    return rec


def _slots(seed: int, plan: CallPlan, series: list[Month] | None) -> dict[str, str]:
    rng = rng_for(seed, "call-slots", plan.ext_id)
    acct = plan.acct
    products = acct.products or ["ResCenter", "Buzz"]
    others = [c.first for c in acct.contacts if c not in plan.contacts]
    month = _month_before(series, plan.started_at.date())
    payments = month.payments_count if month else int(acct.units * 0.7)
    failed = month.failed if month else int(payments * 0.012)
    renew_on = (
        plan.deal.close_date if plan.deal and plan.deal.close_date else plan.started_at.date() + timedelta(days=40)
    )
    return {
        "cust": plan.contacts[0].first,
        "cust2": plan.contacts[1].first if len(plan.contacts) > 1 else (others[0] if others else "our controller"),
        "rep": plan.owner.first,
        "se": plan.colleague.first if plan.colleague else "our payments team",
        "company": acct.name,
        "city": acct.city,
        "state": acct.state,
        "pms": acct.pms,
        "units": f"{acct.units:,}",
        "communities": str(max(2, acct.units // 190)),
        "products": " and ".join(products),
        "price": f"${names.unit_price(products, acct.units):.2f}",
        "arr": fmt_money(acct.arr or (plan.deal.amount if plan.deal else 60_000)),
        "increase": rng.choice(("3%", "4%", "5%", "7%")),
        "month": f"{renew_on:%B}",
        "day": rng.choice(("Tuesday", "Wednesday", "Thursday", "next week", "Monday")),
        "payments": f"{payments:,}",
        "fail_pct": f"{100 * failed / max(1, payments):.1f}%",
        "adoption": f"{min(95, round(100 * payments / max(1, acct.units)))}%",
        "volume": fmt_money(sum(m.volume for m in series[-12:]) if series else acct.units * 1_500 * 8),
        "agency": names.AGENCIES[acct.idx % len(names.AGENCIES)],
        "competitor": plan.competitor or "",
    }


def _month_before(series: list[Month] | None, day: date) -> Month | None:
    start = day.replace(day=1)
    earlier = [m for m in series or [] if m.month < start]
    return earlier[-1] if earlier else None
