"""Rent PayReady processed for each customer per month (platform data): 13 full months plus the
current month to date. Planted: a volume drop or a failure spike in the last full month."""

from __future__ import annotations

import calendar
import math
import random
from dataclasses import dataclass, field
from datetime import date

from connectors.demo.accounts import Acct
from connectors.demo.common import Clock, add_months, hubspot_ref, rng_for

FULL_MONTHS = 13
DROP_THRESHOLD = 0.85  # planted: last full month < 85 % of the three months before
DROP_PLANTED = (0.55, 0.78)
DROP_FLOOR = 0.90  # everyone else stays at or above 90 %
NORMAL_FAILURE = (0.004, 0.025)  # everyone else: failure rate below 3 %
PLANTED_FAILURE = (0.065, 0.13)  # planted: above 5 %
# share of a month's rent collected by the end of day N (rent is mostly paid in the first days)
CUMULATIVE_BY_DAY = (0.0, 0.30, 0.55, 0.70, 0.80, 0.86)


@dataclass(slots=True)
class Month:
    month: date
    succeeded: int
    failed: int
    volume: float

    @property
    def payments_count(self) -> int:
        return self.succeeded + self.failed


@dataclass
class VolumeBook:
    records: list[dict] = field(default_factory=list)
    series: dict[str, list[Month]] = field(default_factory=dict)  # account external id -> months


def build_volumes(*, seed: int, clock: Clock, accts: list[Acct]) -> VolumeBook:
    book = VolumeBook()
    for acct in accts:
        if acct.go_live is None:
            continue
        months = _series(rng_for(seed, "volumes", acct.ext_id), clock, acct)
        if months:
            book.series[acct.ext_id] = months
            book.records += [_record(clock, acct, m) for m in months]
    return book


def _series(rng: random.Random, clock: Clock, acct: Acct) -> list[Month]:
    share, rent = rng.uniform(0.55, 0.85), rng.uniform(1_000, 2_600)
    growth = rng.uniform(0.0, 0.01)
    first = acct.go_live.replace(day=1)
    months: list[Month] = []
    for k in range(FULL_MONTHS, -1, -1):
        m = clock.month(k)
        if m < first or (acct.churned_on and m >= acct.churned_on):
            continue
        ramp = min(1.0, 0.35 + 0.2 * len(months))
        ok = round(acct.units * share * ramp * (1 + growth) ** (FULL_MONTHS - k) * rng.uniform(0.97, 1.03))
        month_rent = rent * rng.uniform(0.99, 1.015)
        months.append(Month(m, ok, 0, round(ok * month_rent, 2)))
    _shape_last_full_month(rng, clock, acct, months)
    for m in months:
        planted = "high_failure" in acct.flags and m.month == clock.month(1)
        m.failed = _failures(rng, m.succeeded, planted)
    if months and months[-1].month == clock.month(0):
        _month_to_date(clock, months)
    return months


def _shape_last_full_month(rng: random.Random, clock: Clock, acct: Acct, months: list[Month]) -> None:
    """Planted drop: last full month well below the average of the three before it; everyone else
    is kept at or above DROP_FLOOR of that average."""
    by_month = {m.month: m for m in months}
    last = by_month.get(clock.month(1))
    prior = [by_month.get(clock.month(k)) for k in (2, 3, 4)]
    if last is None or None in prior:
        return
    avg = sum(m.volume for m in prior) / 3
    ratio = last.volume / avg
    if "volume_drop" in acct.flags:
        ratio = rng.uniform(*DROP_PLANTED)
    elif ratio < DROP_FLOOR:
        ratio = rng.uniform(0.95, 1.03)
    else:
        return
    rent = last.volume / max(1, last.succeeded)
    last.succeeded = max(1, round(avg * ratio / rent))
    last.volume = round(last.succeeded * rent, 2)


def _failures(rng: random.Random, succeeded: int, planted: bool) -> int:
    """Failed attempts such that failed / (succeeded + failed) lies in the wanted band."""
    if planted:
        rate = rng.uniform(*PLANTED_FAILURE)
        return math.ceil(succeeded * rate / (1 - rate))
    rate = rng.uniform(*NORMAL_FAILURE)
    return math.floor(succeeded * rate / (1 - rate))


def _month_to_date(clock: Clock, months: list[Month]) -> None:
    """The current month holds only what was collected up to yesterday."""
    elapsed = clock.as_of.day - 1
    if elapsed == 0:
        months.pop()
        return
    dim = calendar.monthrange(clock.as_of.year, clock.as_of.month)[1]
    last = len(CUMULATIVE_BY_DAY) - 1
    frac = CUMULATIVE_BY_DAY[elapsed] if elapsed <= last else 0.86 + 0.14 * (elapsed - last) / (dim - last)
    m = months[-1]
    rent = m.volume / max(1, m.succeeded)
    m.succeeded, m.failed = round(m.succeeded * frac), round(m.failed * frac)
    m.volume = round(m.succeeded * rent, 2)


def _record(clock: Clock, acct: Acct, m: Month) -> dict:
    created = clock.on(m.month, 0)
    updated = min(clock.now, clock.on(add_months(m.month, 1), 0))
    return {
        "external_id": f"rpv-{acct.ext_id}-{m.month:%Y-%m}",
        "account_ref": hubspot_ref(acct.ext_id),
        "month": m.month,
        "payments_count": m.payments_count,
        "failed_count": m.failed,
        "volume": m.volume,
        "created_at": created,
        "updated_at": updated,
    }
