"""Slack: threads in #wins, #sales, #cs-escalations, #payments-ops and #incidents that follow what
happens in the business (closed deals, stalled deals, escalations, stuck onboardings, incidents)."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connectors.demo.accounts import Acct
from connectors.demo.calls import CallPlan
from connectors.demo.common import Clock, fmt_money, hubspot_ref, rng_for
from connectors.demo.people import Emp, Staff
from connectors.demo.pipeline import DealPlan
from connectors.demo.sizes import SizeSpec
from connectors.demo.slack_text import render_slack

CHANNELS = ("sales", "wins", "cs-escalations", "payments-ops", "incidents")
LOOKBACK_DAYS = 365


@dataclass(slots=True)
class Msg:
    channel: str
    topic: str
    at: datetime
    user: Emp
    acct: Acct | None = None
    deal: DealPlan | None = None
    extra: dict[str, str] = field(default_factory=dict)
    parent: Msg | None = None
    has_replies: bool = False
    ts: str = ""


class Threads:
    """Collects messages; ``post`` starts a thread and adds replies to it."""

    def __init__(self, seed: int, clock: Clock, staff: Staff) -> None:
        self.clock, self.staff = clock, staff
        self.rng = rng_for(seed, "slack")
        self.msgs: list[Msg] = []

    def post(
        self,
        channel: str,
        topic: str,
        at: datetime,
        user: Emp,
        *,
        replies: tuple[str, list[Emp], int] | None = None,
        **kw,
    ) -> Msg:
        parent = Msg(channel, topic, at, user, **kw)
        self.msgs.append(parent)
        if replies:
            reply_topic, people, n = replies
            for _i in range(n):
                at = at + timedelta(minutes=self.rng.randint(2, 75))
                self.msgs.append(
                    Msg(
                        channel,
                        reply_topic,
                        at,
                        self.rng.choice(people),
                        parent.acct,
                        parent.deal,
                        parent.extra,
                        parent,
                    )
                )
            parent.has_replies = n > 0
        return parent


def schedule_slack(
    *,
    seed: int,
    clock: Clock,
    spec: SizeSpec,
    staff: Staff,
    accts: list[Acct],
    deals: list[DealPlan],
    calls: list[CallPlan],
    champions_left: dict[str, datetime],
) -> list[Msg]:
    t = Threads(seed, clock, staff)
    _deal_threads(t, deals)
    _cs_threads(t, accts, calls, champions_left)
    _ops_threads(t, spec, accts)
    _incidents(t, spec)
    kept = [
        m
        for m in t.msgs
        if m.at < clock.now
        and clock.days_before(m.at) <= LOOKBACK_DAYS
        and (m.parent is None or m.parent.at < clock.now)
    ]
    kept.sort(key=lambda m: m.at)
    for n, m in enumerate(kept, start=1):
        m.ts = f"{int(m.at.timestamp())}.{n % 1_000_000:06d}"
    return kept


def _deal_threads(t: Threads, deals: list[DealPlan]) -> None:
    rng, sales = t.rng, t.staff.role("ae") + t.staff.role("sales_manager") + t.staff.role("csm")
    for d in deals:
        if d.stage == "closed_won" and d.deal_type != "renewal":
            t.post(
                "wins",
                "win",
                d.stage_entered_at + timedelta(minutes=rng.randint(10, 90)),
                d.owner,
                replies=("win_reply", sales, rng.randint(1, 4)),
                acct=d.acct,
                deal=d,
                extra={"helper": rng.choice(t.staff.role("se")).first},
            )
        entered = d.entered("qualified")
        if entered and d.deal_type == "new":
            at = t.clock.workday(rng, entered - timedelta(days=rng.randint(1, 3)))
            t.post(
                "sales",
                "sdr_booked",
                at,
                rng.choice(t.staff.role("sdr")),
                replies=("sdr_reply", [d.owner], rng.randint(0, 1)),
                acct=d.acct,
                deal=d,
            )
        if d.is_open and d.stage != "lead":
            boss = [d.owner.manager or d.owner]
            t.post(
                "sales",
                "deal_update",
                t.clock.workday(rng, d.stage_entered_at + timedelta(hours=rng.randint(1, 6))),
                d.owner,
                replies=("deal_reply", boss, rng.randint(0, 2)),
                acct=d.acct,
                deal=d,
            )
        if d.stalled:
            at = t.clock.workday(rng, d.stage_entered_at + timedelta(days=rng.randint(12, 20)))
            t.post(
                "sales",
                "stalled_ping",
                at,
                d.owner.manager or d.owner,
                replies=("stalled_reply", [d.owner], 1),
                acct=d.acct,
                deal=d,
            )


def _cs_threads(t: Threads, accts: list[Acct], calls: list[CallPlan], champions_left: dict[str, datetime]) -> None:
    rng, fixers = t.rng, t.staff.role("payments_ops") + t.staff.role("support")
    for c in calls:
        if c.call_type == "escalation":
            at = t.clock.workday(rng, c.started_at - timedelta(days=rng.randint(1, 2)))
            t.post(
                "cs-escalations",
                "escalation",
                at,
                c.owner,
                replies=("escalation_reply", fixers, rng.randint(1, 3)),
                acct=c.acct,
            )
    for a in accts:
        leads = [a.owner.manager or a.owner]
        if "stuck" in a.flags:
            t.post(
                "cs-escalations",
                "stuck",
                t.clock.moment(rng, rng.randint(8, 30)),
                a.owner,
                replies=("stuck_reply", leads, 1),
                acct=a,
            )
        if a.ext_id in champions_left:
            t.post(
                "cs-escalations",
                "champion_left",
                champions_left[a.ext_id] + timedelta(minutes=rng.randint(20, 200)),
                a.owner,
                replies=("champion_reply", leads + [a.ae], rng.randint(1, 2)),
                acct=a,
            )
        if "late_payer" in a.flags:
            t.post(
                "cs-escalations",
                "ar_late",
                t.clock.moment(rng, rng.randint(2, 20)),
                rng.choice(t.staff.role("finance")),
                replies=("ar_reply", [a.owner], 1),
                acct=a,
                extra={"count": str(rng.randint(3, 4))},
            )


def _ops_threads(t: Threads, spec: SizeSpec, accts: list[Acct]) -> None:
    rng, ops = t.rng, t.staff.role("payments_ops")
    day = 1
    while day <= LOOKBACK_DAYS:
        rate = f"{rng.uniform(0.6, 1.6):.1f}%"
        t.post(
            "payments-ops",
            "ops_daily",
            t.clock.moment(rng, day),
            rng.choice(ops),
            replies=("ops_reply", ops + t.staff.role("csm"), rng.choice((0, 0, 1))),
            extra={"rate": rate},
        )
        day += max(1, round(rng.randint(2, 4) / max(1.0, spec.accounts / 300)))
    for a in accts:
        if "high_failure" in a.flags:
            t.post(
                "payments-ops",
                "ops_account",
                t.clock.moment(rng, rng.randint(1, 6)),
                rng.choice(ops),
                replies=("ops_reply", [a.owner], 1),
                acct=a,
                extra={"rate": f"{rng.uniform(6.5, 12):.1f}%"},
            )


def _incidents(t: Threads, spec: SizeSpec) -> None:
    rng, eng = t.rng, t.staff.role("engineering")
    for _ in range(max(3, spec.accounts // 50)):
        start = t.clock.moment(rng, rng.randint(2, LOOKBACK_DAYS))
        t.post(
            "incidents",
            "incident_open",
            start,
            rng.choice(eng),
            replies=("incident_update", eng, rng.randint(1, 3)),
            extra={"pms": rng.choice(("Yardi", "RealPage"))},
        )
        t.post("incidents", "incident_resolved", start + timedelta(hours=rng.randint(2, 8)), rng.choice(eng))


def channel_ids(seed: int) -> dict[str, str]:
    rng = rng_for(seed, "slack-channels")
    return {c: "C0" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=9)) for c in CHANNELS}


def message_id(channels: dict[str, str], msg: Msg) -> str:
    return f"{channels[msg.channel]}:{msg.ts}"


def slack_record(seed: int, channels: dict[str, str], msg: Msg) -> dict:
    rng = rng_for(seed, "slack-text", channels[msg.channel], msg.ts)
    rec = {
        "external_id": message_id(channels, msg),
        "channel_id": channels[msg.channel],
        "channel": msg.channel,
        "ts": msg.ts,
        "thread_ts": msg.parent.ts if msg.parent else (msg.ts if msg.has_replies else None),
        "user_id": msg.user.slack_id,
        "user_name": msg.user.name,
        "text": render_slack(rng, msg.topic, _slots(rng, msg)),
        "posted_at": msg.at,
        "created_at": msg.at,
        "updated_at": msg.at,
    }
    if msg.acct is not None:
        rec["account_ref"] = hubspot_ref(msg.acct.ext_id)
    return rec


def _slots(rng: random.Random, msg: Msg) -> dict[str, str]:
    a, d = msg.acct, msg.deal
    contact = (a.champion or a.contacts[0]) if a else None
    slots = {
        "account": a.name if a else "",
        "units": f"{a.units:,}" if a else "",
        "pms": a.pms if a else "",
        "city": a.city if a else "",
        "state": a.state if a else "",
        "contact": contact.name if contact else "",
        "title": contact.title if contact else "",
        "products": d.name.split(" — ")[-1] if d else "",
        "amount": fmt_money(d.amount) if d else "",
        "stage": d.stage.replace("_", " ") if d else "",
        "entered": f"{d.stage_entered_at:%b %d}" if d else "",
        "owner_id": (d.owner if d else msg.user).slack_id,
        "manager": (d.owner.manager or d.owner).first if d else "",
        "month": f"{msg.at + timedelta(days=30):%B}",
        "day": rng.choice(("Thursday", "Friday", "Monday")),
        "author": msg.parent.user.first if msg.parent else "",
        "helper": "the SE team",
        "rate": "",
        "count": "",
    }
    slots.update(msg.extra)
    return slots
