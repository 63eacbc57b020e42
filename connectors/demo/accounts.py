"""Customers and prospects (HubSpot companies) and their people (HubSpot contacts).

An account's commercial history is planned here: when it signed, went live or churned, and its
monthly recurring revenue (MRR) over time. Invoices, deals and rent volumes are derived from it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from faker import Faker

from connectors.demo import names
from connectors.demo.common import Clock, pick_weighted, rng_for
from connectors.demo.people import Emp, Staff
from connectors.demo.sizes import SizeSpec

STUCK_AFTER_DAYS = 45
CUSTOMER = ("onboarding", "live", "churned")


@dataclass(slots=True)
class Contact:
    ext_id: str
    first: str
    last: str
    email: str
    title: str
    phone: str
    is_champion: bool = False

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(slots=True)
class MrrStep:
    effective: date
    mrr: float
    products: tuple[str, ...]


@dataclass(slots=True)
class Acct:
    idx: int
    ext_id: str
    name: str
    domain: str
    units: int
    pms: str
    city: str
    state: str
    lifecycle: str
    stage_changed_at: datetime
    created_at: datetime
    owner: Emp
    ae: Emp
    customer_since: date | None = None
    signed_at: datetime | None = None
    go_live: date | None = None
    churned_on: date | None = None
    steps: list[MrrStep] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    health_score: int | None = None

    @property
    def segment(self) -> str:
        return names.segment_for(self.units)

    @property
    def is_customer(self) -> bool:
        return self.lifecycle in CUSTOMER

    @property
    def products(self) -> list[str]:
        return list(self.steps[-1].products) if self.steps else []

    @property
    def mrr(self) -> float:
        return self.steps[-1].mrr if self.steps and self.lifecycle != "churned" else 0.0

    @property
    def arr(self) -> float:
        return round(12 * self.mrr, 2)

    def mrr_on(self, d: date) -> float:
        current = 0.0
        for step in self.steps:
            if step.effective <= d:
                current = step.mrr
        return current

    @property
    def champion(self) -> Contact | None:
        return next((c for c in self.contacts if c.is_champion), None)


def lifecycle_plan(rng: random.Random, spec: SizeSpec) -> list[str]:
    n = spec.accounts
    onboarding = spec.stuck + max(2, round(0.04 * n))
    prospects, churned = round(0.30 * n), round(0.10 * n)
    stages = ["prospect"] * prospects + ["onboarding"] * onboarding + ["churned"] * churned
    stages += ["live"] * (n - len(stages))
    rng.shuffle(stages)
    return stages


def build_accounts(*, fake: Faker, seed: int, clock: Clock, spec: SizeSpec, staff: Staff) -> list[Acct]:
    rng = rng_for(seed, "accounts")
    stages = lifecycle_plan(rng, spec)
    stuck = set(rng.sample([i for i, s in enumerate(stages) if s == "onboarding"], spec.stuck))
    taken: set[str] = set()
    accts = []
    for i, stage in enumerate(stages):
        acct = _base_account(fake, rng, clock, staff, i, stage, taken)
        _plan_history(rng, clock, acct, stuck=i in stuck)
        if i in stuck:
            acct.flags.add("stuck")
        acct.contacts = _contacts(fake, rng, acct)
        accts.append(acct)
    _number_contacts(accts)
    return accts


def _base_account(
    fake: Faker, rng: random.Random, clock: Clock, staff: Staff, i: int, stage: str, taken: set[str]
) -> Acct:
    while True:
        name = names.company_name(rng, fake.last_name())
        if name not in taken and not names.has_competitor(name):
            break
    taken.add(name)
    seg = pick_weighted(rng, names.SEGMENT_WEIGHTS)
    lo, hi = names.SEGMENT_UNITS[seg]
    units = int(lo + (hi - lo) * rng.random() ** 2.4) // 10 * 10 or lo
    city, state = rng.choice(names.METROS)
    ae = rng.choice(staff.role("ae"))
    owner = ae if stage == "prospect" else rng.choice(staff.role("csm"))
    return Acct(
        idx=i,
        ext_id=f"co-{i + 1:06d}",
        name=name,
        domain=names.domain_for(name),
        units=units,
        pms=pick_weighted(rng, names.PMS, names.PMS_WEIGHTS),
        city=city,
        state=state,
        lifecycle=stage,
        stage_changed_at=clock.now,
        created_at=clock.now,
        owner=owner,
        ae=ae,
    )


def _plan_history(rng: random.Random, clock: Clock, acct: Acct, *, stuck: bool) -> None:
    """Dates of signing, go-live and churn, and the MRR steps (signing, then any expansion)."""
    if acct.lifecycle == "prospect":
        acct.stage_changed_at = clock.moment(rng, rng.randint(10, 500))
        acct.created_at = acct.stage_changed_at
        return
    if acct.lifecycle == "onboarding":
        signed_ago = rng.randint(50, 130) if stuck else rng.randint(3, 38)
    elif acct.lifecycle == "live":
        signed_ago = 100 + int(630 * rng.random() ** 1.3) if rng.random() < 0.55 else rng.randint(730, 2200)
    else:
        signed_ago = rng.randint(420, 2000)
    acct.customer_since = clock.day(signed_ago)
    acct.created_at = clock.moment(rng, signed_ago + rng.randint(30, 150))
    acct.signed_at = clock.moment_on(rng, acct.customer_since)
    acct.stage_changed_at = acct.signed_at
    extras = rng.sample(names.PRODUCTS[1:], k=rng.choices((0, 1, 2), weights=(45, 40, 15))[0])
    products = tuple(p for p in names.PRODUCTS if p == "ResCenter" or p in extras)
    discount = rng.uniform(0.86, 1.0)
    acct.steps = [MrrStep(acct.customer_since, _mrr(products, acct.units, discount), products)]
    if acct.lifecycle == "onboarding":
        return
    acct.go_live = acct.customer_since + timedelta(days=rng.randint(25, 75))
    if acct.lifecycle == "live":
        acct.stage_changed_at = clock.moment_on(rng, acct.go_live)
        _maybe_expand(rng, clock, acct, discount)
    else:
        first_full_month_ago = (clock.as_of - clock.month(1)).days + 1
        churn_ago = rng.randint(first_full_month_ago, min(600, signed_ago - 200))
        acct.churned_on = clock.day(churn_ago)
        acct.stage_changed_at = clock.moment_on(rng, acct.churned_on)


def _maybe_expand(rng: random.Random, clock: Clock, acct: Acct, discount: float) -> None:
    live_days = (clock.as_of - acct.go_live).days
    latest = min(700, live_days - 90)
    missing = [p for p in names.PRODUCTS if p not in acct.steps[0].products]
    if latest < 20 or not missing or rng.random() > 0.4:
        return
    when = clock.day(rng.randint(20, latest))
    added = rng.sample(missing, k=1)
    products = tuple(p for p in names.PRODUCTS if p in acct.steps[0].products or p in added)
    acct.steps.append(MrrStep(when, _mrr(products, acct.units, discount), products))


def _mrr(products: tuple[str, ...], units: int, discount: float) -> float:
    return round(names.mrr_for(list(products), units) * discount, 2)


def _contacts(fake: Faker, rng: random.Random, acct: Acct) -> list[Contact]:
    lo, hi = {"smb": (2, 3), "mid_market": (3, 5), "enterprise": (4, 6)}[acct.segment]
    n = rng.randint(1, 3) if acct.lifecycle == "prospect" else rng.randint(lo, hi)
    titles = rng.sample(names.TITLES_CUSTOMER, k=n)
    people, seen = [], set()
    for title, _senior in titles:
        while True:
            first, last = fake.first_name(), fake.last_name()
            email = f"{first}.{last}@{acct.domain}".lower().replace("'", "")
            if email not in seen and not names.has_competitor(f"{first} {last}"):
                break
        seen.add(email)
        phone = f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
        people.append(Contact("", first, last, email, title, phone))
    seniors = [c for c, (_t, senior) in zip(people, titles) if senior]
    wants_champion = rng.random() < (0.8 if acct.is_customer else 0.35)
    if seniors and wants_champion:
        rng.choice(seniors).is_champion = True
    return people


def _number_contacts(accts: list[Acct]) -> None:
    n = 0
    for acct in accts:
        for c in acct.contacts:
            n += 1
            c.ext_id = f"ct-{n:06d}"


def health_label(score: int | None) -> str | None:
    if score is None:
        return None
    return "healthy" if score >= 70 else "at_risk" if score >= 40 else "critical"


PENALTY = {"volume_drop": 22, "high_failure": 14, "late_payer": 10, "declining": 18, "champion_left": 12, "stuck": 25}


def score_health(seed: int, accts: list[Acct]) -> None:
    """Health 0-100 for customers, lower where a planted problem shows; None for prospects."""
    for acct in accts:
        rng = rng_for(seed, "health", acct.ext_id)
        if acct.lifecycle == "prospect":
            acct.health_score = None
        elif acct.lifecycle == "churned":
            acct.health_score = rng.randint(8, 34)
        else:
            base = rng.randint(62, 97) if acct.lifecycle == "live" else rng.randint(66, 88)
            base -= sum(PENALTY.get(f, 0) for f in acct.flags)
            acct.health_score = max(5, min(99, base))


def account_records(clock: Clock, accts: list[Acct]) -> list[dict]:
    return [
        {
            "external_id": a.ext_id,
            "name": a.name,
            "domain": a.domain,
            "segment": a.segment,
            "units_managed": a.units,
            "lifecycle_stage": a.lifecycle,
            "stage_changed_at": a.stage_changed_at,
            "customer_since": a.customer_since,
            "churned_on": a.churned_on,
            "arr": a.arr,
            "health_score": a.health_score,
            "health": health_label(a.health_score),
            "products": a.products,
            "pms": a.pms,
            "owner": a.owner.email,
            "city": a.city,
            "state": a.state,
            "created_at": a.created_at,
            "updated_at": max(a.stage_changed_at, clock.now - timedelta(days=2)),
        }
        for a in accts
    ]


def contact_records(accts: list[Acct]) -> list[dict]:
    return [
        {
            "external_id": c.ext_id,
            "account_ref": a.ext_id,
            "first_name": c.first,
            "last_name": c.last,
            "email": c.email,
            "title": c.title,
            "phone": c.phone,
            "is_champion": c.is_champion,
            "created_at": a.created_at,
            "updated_at": a.created_at,
        }
        for a in accts
        for c in a.contacts
    ]
