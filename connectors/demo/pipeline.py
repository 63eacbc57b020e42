"""Deals (HubSpot) with their stage history, consistent with each account's commercial history:
the new-business deal that signed it, expansions, renewals, churn, and the open pipeline."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from connectors.demo import names
from connectors.demo.accounts import Acct
from connectors.demo.common import Clock, rng_for
from connectors.demo.people import Emp

STAGES = ("lead", "qualified", "discovery", "demo", "proposal", "negotiation", "closed_won", "closed_lost")
OPEN_STAGES = STAGES[:6]
NEW_PATH = OPEN_STAGES
EXPANSION_PATH = ("qualified", "discovery", "proposal", "negotiation")
RENEWAL_PATH = ("proposal", "negotiation")
STALLED_AFTER_DAYS = 21
FRESH_MAX_DAYS = 18  # every open deal that is not planted as stalled moved within this many days
STALLED_DAYS = (28, 75)


@dataclass(slots=True)
class DealPlan:
    ext_id: str
    acct: Acct
    name: str
    deal_type: str
    amount: float
    owner: Emp
    path: tuple[str, ...]  # the stages it went through, ending in its current stage
    history: list[tuple[str, datetime]] = field(default_factory=list)
    close_date: date | None = None
    stalled: bool = False

    @property
    def stage(self) -> str:
        return self.path[-1]

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES

    @property
    def stage_entered_at(self) -> datetime:
        return self.history[-1][1]

    def entered(self, stage: str) -> datetime | None:
        return next((at for s, at in self.history if s == stage), None)


def build_deals(*, seed: int, clock: Clock, accts: list[Acct], stalled: int) -> list[DealPlan]:
    rng = rng_for(seed, "deals")
    deals: list[DealPlan] = []
    for acct in accts:
        if acct.is_customer:
            deals += _customer_deals(rng, clock, acct)
        else:
            deals += _prospect_deals(rng, clock, acct)
    open_deals = [d for d in deals if d.is_open]
    for d in rng.sample(open_deals, k=min(stalled, len(open_deals))):
        d.stalled = True
    for d in open_deals:
        _open_history(rng, clock, d)
    by_acct: dict[int, list[DealPlan]] = {}
    for d in deals:
        by_acct.setdefault(d.acct.idx, []).append(d)
    for acct in accts:
        _account_created(rng, acct, by_acct.get(acct.idx, []))
    for i, d in enumerate(sorted(deals, key=lambda d: d.history[0][1])):
        d.ext_id = f"dl-{i + 1:06d}"
    return sorted(deals, key=lambda d: d.ext_id)


def _customer_deals(rng: random.Random, clock: Clock, acct: Acct) -> list[DealPlan]:
    first = acct.steps[0]
    won = _deal(
        acct, f"{acct.name} — {' + '.join(first.products)}", "new", 12 * first.mrr, acct.ae, NEW_PATH + ("closed_won",)
    )
    _closed_history(rng, won, acct.signed_at)
    deals = [won]
    for prev, step in zip(acct.steps, acct.steps[1:]):
        added = [p for p in step.products if p not in prev.products]
        d = _deal(
            acct,
            f"{acct.name} — {' + '.join(added)} expansion",
            "expansion",
            12 * (step.mrr - prev.mrr),
            acct.ae,
            EXPANSION_PATH + ("closed_won",),
        )
        _closed_history(rng, d, clock.moment_on(rng, step.effective))
        deals.append(d)
    deals += _renewals(rng, clock, acct)
    if acct.lifecycle == "live" and rng.random() < 0.18 and len(acct.products) < len(names.PRODUCTS):
        extra = rng.choice([p for p in names.PRODUCTS if p not in acct.products])
        amount = 12 * names.mrr_for([extra], acct.units) * rng.uniform(0.85, 1.0)
        path = EXPANSION_PATH[: rng.randint(1, len(EXPANSION_PATH))]
        deals.append(_deal(acct, f"{acct.name} — {extra} expansion", "expansion", amount, acct.ae, path))
    return deals


def _renewals(rng: random.Random, clock: Clock, acct: Acct) -> list[DealPlan]:
    deals = []
    if acct.lifecycle == "churned":
        last_mrr = acct.mrr_on(acct.churned_on - timedelta(days=1))
        d = _deal(
            acct,
            f"{acct.name} — Renewal {acct.churned_on.year}",
            "renewal",
            12 * last_mrr,
            acct.owner,
            RENEWAL_PATH + ("closed_lost",),
        )
        _closed_history(rng, d, clock.moment_on(rng, acct.churned_on))
        return [d]
    if acct.lifecycle != "live":
        return []
    years = (clock.as_of - acct.customer_since).days // 365
    last = acct.customer_since + timedelta(days=365 * years)
    if years >= 1 and last < clock.as_of and last > acct.go_live:
        d = _deal(
            acct,
            f"{acct.name} — Renewal {last.year}",
            "renewal",
            12 * acct.mrr_on(last),
            acct.owner,
            RENEWAL_PATH + ("closed_won",),
        )
        _closed_history(rng, d, clock.moment_on(rng, last))
        deals.append(d)
    upcoming = acct.customer_since + timedelta(days=365 * (years + 1))
    if (upcoming - clock.as_of).days <= 90:
        path = RENEWAL_PATH[: rng.randint(1, 2)]
        d = _deal(acct, f"{acct.name} — Renewal {upcoming.year}", "renewal", acct.arr, acct.owner, path)
        d.close_date = upcoming
        deals.append(d)
    return deals


def _prospect_deals(rng: random.Random, clock: Clock, acct: Acct) -> list[DealPlan]:
    roll = rng.random()
    if roll > 0.80:
        return []
    extras = rng.sample(names.PRODUCTS[1:], k=rng.randint(0, 2))
    products = [p for p in names.PRODUCTS if p == "ResCenter" or p in extras]
    amount = 12 * names.mrr_for(products, acct.units) * rng.uniform(0.88, 1.0)
    name = f"{acct.name} — {' + '.join(products)}"
    if roll < 0.14:
        lost_at = rng.choice(OPEN_STAGES[1:])
        path = NEW_PATH[: NEW_PATH.index(lost_at) + 1] + ("closed_lost",)
        lost = _deal(acct, name, "new", amount, acct.ae, path)
        _closed_history(rng, lost, clock.moment(rng, rng.randint(15, 400)))
        return [lost]
    stage = rng.choices(OPEN_STAGES, weights=(15, 20, 20, 18, 15, 12))[0]
    return [_deal(acct, name, "new", amount, acct.ae, NEW_PATH[: NEW_PATH.index(stage) + 1])]


def _deal(acct: Acct, name: str, deal_type: str, amount: float, owner: Emp, path: tuple[str, ...]) -> DealPlan:
    return DealPlan("", acct, name, deal_type, round(max(amount, 1_200.0), 2), owner, path)


def _closed_history(rng: random.Random, deal: DealPlan, closed_at: datetime) -> None:
    """Stages entered backwards from the close, 3-24 days apart."""
    at, history = closed_at, []
    for stage in reversed(deal.path):
        history.append((stage, at))
        at -= timedelta(days=rng.randint(3, 24), hours=rng.randint(0, 6), minutes=rng.randint(0, 59))
    deal.history = history[::-1]
    deal.close_date = closed_at.date()


def _open_history(rng: random.Random, clock: Clock, deal: DealPlan) -> None:
    expected = deal.close_date  # an open renewal is expected on the contract anniversary
    days = rng.randint(*STALLED_DAYS) if deal.stalled else rng.randint(1, FRESH_MAX_DAYS)
    _closed_history(rng, deal, clock.moment(rng, days))
    ahead = rng.randint(-20, 30) if deal.stalled else rng.randint(10, 120)
    deal.close_date = expected or clock.as_of + timedelta(days=ahead)


def _account_created(rng: random.Random, acct: Acct, deals: list[DealPlan]) -> None:
    """An account exists in the CRM before its first deal; a prospect entered that stage then."""
    if not deals:
        return
    first = min(d.history[0][1] for d in deals)
    if acct.created_at >= first:
        acct.created_at = first - timedelta(days=rng.randint(2, 30), minutes=rng.randint(0, 600))
        if acct.lifecycle == "prospect":
            acct.stage_changed_at = acct.created_at


def deal_records(deals: list[DealPlan]) -> list[dict]:
    return [
        {
            "external_id": d.ext_id,
            "account_ref": d.acct.ext_id,
            "name": d.name,
            "deal_type": d.deal_type,
            "stage": d.stage,
            "amount": d.amount,
            "currency": "USD",
            "close_date": d.close_date,
            "closed_at": None if d.is_open else d.stage_entered_at,
            "stage_entered_at": d.stage_entered_at,
            "owner": d.owner.email,
            "stage_history": [{"stage": s, "entered_at": at} for s, at in d.history],
            "created_at": d.history[0][1],
            "updated_at": d.stage_entered_at,
        }
        for d in deals
    ]
