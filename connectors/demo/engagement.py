"""Declining engagement: planted accounts talk less and less happily in the last 60 days than in
the 60 days before; every other account is kept from matching that rule by accident."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from connectors.demo.accounts import Acct
from connectors.demo.activities import ActMaker, ActPlan
from connectors.demo.calls import CallMaker, CallPlan
from connectors.demo.common import Clock, rng_for
from connectors.demo.people import Staff
from connectors.demo.sizes import SizeSpec

WINDOW_DAYS = 60  # "before" = [as_of-120d, as_of-60d), "recent" = [as_of-60d, as_of), as_of at 00:00 UTC
EPSILON = 1e-6


@dataclass(frozen=True)
class Windows:
    calls_before: int
    calls_recent: int
    sentiment_before: float | None
    sentiment_recent: float | None
    activities_before: int
    activities_recent: int

    @property
    def touches_before(self) -> int:
        return self.calls_before + self.activities_before

    @property
    def touches_recent(self) -> int:
        return self.calls_recent + self.activities_recent

    @property
    def declining(self) -> bool:
        if self.sentiment_before is None or self.sentiment_recent is None:
            return False
        return self.sentiment_recent < self.sentiment_before - EPSILON and self.touches_recent < self.touches_before

    @property
    def sentiment_falls_or_ties(self) -> bool:
        if self.sentiment_before is None or self.sentiment_recent is None:
            return False
        return self.sentiment_recent <= self.sentiment_before + EPSILON


def window_of(clock: Clock, at: datetime) -> str | None:
    days = clock.days_before(at)
    if 0 < days <= WINDOW_DAYS:
        return "recent"
    if WINDOW_DAYS < days <= 2 * WINDOW_DAYS:
        return "before"
    return None


def windows(clock: Clock, calls: list[CallPlan], acts: list[ActPlan]) -> Windows:
    sent: dict[str, list[float]] = {"before": [], "recent": []}
    count = {"before": 0, "recent": 0}
    for c in calls:
        if (w := window_of(clock, c.started_at)) is not None:
            sent[w].append(c.sentiment)
    for a in acts:
        if (w := window_of(clock, a.occurred_at)) is not None:
            count[w] += 1
    avg = {w: (sum(v) / len(v) if v else None) for w, v in sent.items()}
    return Windows(
        len(sent["before"]), len(sent["recent"]), avg["before"], avg["recent"], count["before"], count["recent"]
    )


def balance(
    *,
    seed: int,
    clock: Clock,
    spec: SizeSpec,
    staff: Staff,
    accts: list[Acct],
    calls: list[CallPlan],
    acts: list[ActPlan],
) -> tuple[list[CallPlan], list[ActPlan]]:
    """Plant declining accounts and lift near misses; returns the new call and activity lists."""
    calls_by: dict[int, list[CallPlan]] = {}
    acts_by: dict[int, list[ActPlan]] = {}
    for c in calls:
        calls_by.setdefault(c.acct.idx, []).append(c)
    for a in acts:
        acts_by.setdefault(a.acct.idx, []).append(a)
    out_calls, out_acts = [], []
    for acct in accts:
        c, a = calls_by.get(acct.idx, []), acts_by.get(acct.idx, [])
        if "declining" in acct.flags:
            c, a = _plant(seed, clock, staff, spec, acct, c, a)
        else:
            a = a + _lift(seed, clock, acct, windows(clock, c, a))
        out_calls += c
        out_acts += a
    return out_calls, out_acts


def _plant(
    seed: int, clock: Clock, staff: Staff, spec: SizeSpec, acct: Acct, calls: list[CallPlan], acts: list[ActPlan]
) -> tuple[list[CallPlan], list[ActPlan]]:
    calls = [c for c in calls if window_of(clock, c.started_at) is None]
    acts = [a for a in acts if window_of(clock, a.occurred_at) is None]
    cm, am = CallMaker(seed, clock, staff, spec, acct), ActMaker(seed, clock, acct)
    rng = cm.rng = am.rng = rng_for(seed, "declining", acct.ext_id)
    before_days = rng.sample(range(WINDOW_DAYS + 1, 2 * WINDOW_DAYS + 1), k=rng.randint(8, 11))
    for d in before_days[: rng.randint(3, 4)]:
        calls.append(cm.call("check_in", clock.moment(rng, d), acct.owner, sentiment=(0.35, 0.85)))
    for d in before_days[4:]:
        acts.append(am.make(rng.choice(("check_in", "qbr")), clock.moment(rng, d), acct.owner))
    kind = "escalation" if "high_failure" in acct.flags else "check_in"
    calls.append(cm.call(kind, clock.moment(rng, rng.randint(4, 50)), acct.owner, sentiment=(-0.6, -0.05)))
    for d in rng.sample(range(1, WINDOW_DAYS + 1), k=rng.randint(1, 2)):
        acts.append(am.make("check_in", clock.moment(rng, d), acct.owner))
    return calls, acts


def _lift(seed: int, clock: Clock, acct: Acct, w: Windows) -> list[ActPlan]:
    """An account whose sentiment did not rise gets enough recent activities that its touches don't fall."""
    if not w.sentiment_falls_or_ties or w.touches_recent >= w.touches_before:
        return []
    am = ActMaker(seed, clock, acct)
    rng = am.rng = rng_for(seed, "lift", acct.ext_id)
    topic = "check_in" if acct.is_customer else "follow_up"
    days = rng.sample(range(1, WINDOW_DAYS + 1), k=w.touches_before - w.touches_recent)
    return [am.make(topic, clock.moment(rng, d), acct.owner) for d in days]
