"""The whole demo business, planned in dependency order from one (size, seed, as_of).

Everything cheap is built here; the text of calls, activities and Slack messages is written later,
record by record, from per-record random streams (see ``generator.streams``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from faker import Faker

from connectors.demo import accounts, activities, calls, engagement, finance, people, pipeline, plants, signals, slack
from connectors.demo.common import Clock
from connectors.demo.sizes import SizeSpec, spec_for
from connectors.demo.volumes import VolumeBook, build_volumes


@dataclass
class World:
    spec: SizeSpec
    seed: int
    clock: Clock
    staff: people.Staff
    accts: list[accounts.Acct]
    deals: list[pipeline.DealPlan]
    ledger: finance.Ledger
    volumes: VolumeBook
    calls: list[calls.CallPlan]
    acts: list[activities.ActPlan]
    moves: list[signals.JobMove]
    prospects: list[dict]
    msgs: list[slack.Msg]
    talkers: list[people.Emp]


def build_world(*, size: str, seed: int, as_of: date) -> World:
    spec, clock = spec_for(size), Clock(as_of)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    staff = people.build_staff(fake=fake, seed=seed, clock=clock, accounts=spec.accounts)
    accts = accounts.build_accounts(fake=fake, seed=seed, clock=clock, spec=spec, staff=staff)
    plants.plant_flags(seed=seed, clock=clock, spec=spec, accts=accts)
    deals = pipeline.build_deals(seed=seed, clock=clock, accts=accts, stalled=spec.plants)
    ledger = finance.build_ledger(seed=seed, clock=clock, accts=accts)
    volumes = build_volumes(seed=seed, clock=clock, accts=accts)
    call_plans, act_plans = _conversations(seed, clock, spec, staff, accts, deals, ledger)
    talkers = calls.plant_talkers(seed=seed, spec=spec, plans=call_plans)
    calls.plant_competitors(seed=seed, spec=spec, plans=call_plans)
    calls.measure_shares(seed, call_plans)
    taken = {a.name for a in accts}
    prospects = signals.build_prospects(fake=fake, seed=seed, clock=clock, count=spec.apollo_prospects, taken=taken)
    elsewhere = [p["company_name"] for p in prospects[:50]] + [a.name for a in accts if a.lifecycle == "prospect"]
    moves = signals.build_job_moves(seed=seed, clock=clock, accts=accts, elsewhere=elsewhere)
    accounts.score_health(seed, accts)
    left = {m.acct.ext_id: m.detected_at for m in moves if m.left and m.contact.is_champion}
    msgs = slack.schedule_slack(
        seed=seed, clock=clock, spec=spec, staff=staff, accts=accts, deals=deals, calls=call_plans, champions_left=left
    )
    return World(
        spec, seed, clock, staff, accts, deals, ledger, volumes, call_plans, act_plans, moves, prospects, msgs, talkers
    )


def _conversations(
    seed: int,
    clock: Clock,
    spec: SizeSpec,
    staff: people.Staff,
    accts: list[accounts.Acct],
    deals: list[pipeline.DealPlan],
    ledger: finance.Ledger,
):  # noqa: ANN202
    """Calls and activities, balanced for the declining-engagement rule, numbered in time order."""
    call_plans = calls.schedule_calls(seed=seed, clock=clock, spec=spec, staff=staff, accts=accts, deals=deals)
    act_plans = activities.schedule_activities(
        seed=seed, clock=clock, spec=spec, staff=staff, accts=accts, deals=deals, late=ledger.late
    )
    call_plans, act_plans = engagement.balance(
        seed=seed, clock=clock, spec=spec, staff=staff, accts=accts, calls=call_plans, acts=act_plans
    )
    call_plans.sort(key=lambda c: (c.started_at, c.acct.idx))
    act_plans.sort(key=lambda a: (a.occurred_at, a.acct.idx))
    for n, c in enumerate(call_plans, start=1):
        c.ext_id = f"call-{n:07d}"
    for n, a in enumerate(act_plans, start=1):
        a.ext_id = f"act-{n:07d}"
    return call_plans, act_plans
