"""Shared helpers: the as_of clock, per-purpose seeded random streams, chunking."""

from __future__ import annotations

import calendar
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import TypeVar

T = TypeVar("T")

WORK_START_UTC_MIN = 14 * 60  # 9am US Central
WORK_END_UTC_MIN = 23 * 60 + 30


def rng_for(seed: int, *parts: object) -> random.Random:
    """An independent random stream per purpose (and per record), so adding records of one kind
    never shifts the values of another. String seeds are hashed with SHA-512: stable everywhere."""
    return random.Random("/".join([str(seed), *map(str, parts)]))


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Clock:
    """Every timestamp of the demo is relative to ``as_of`` (its 00:00 UTC is ``now``)."""

    as_of: date

    @property
    def now(self) -> datetime:
        return datetime.combine(self.as_of, time(0), tzinfo=UTC)

    def day(self, days_ago: int) -> date:
        return self.as_of - timedelta(days=days_ago)

    def moment(self, rng: random.Random, days_ago: int) -> datetime:
        """A working-hours instant on the day ``days_ago`` days before as_of (1 = yesterday).
        It lies strictly between ``now - days_ago`` and ``now - days_ago + 1`` days."""
        minute = rng.randint(WORK_START_UTC_MIN, WORK_END_UTC_MIN)
        return self.on(self.day(days_ago), minute, rng.randint(0, 59))

    def on(self, d: date, minute: int, second: int = 0) -> datetime:
        return datetime.combine(d, time(minute // 60, minute % 60, second), tzinfo=UTC)

    def moment_on(self, rng: random.Random, d: date) -> datetime:
        return self.on(d, rng.randint(WORK_START_UTC_MIN, WORK_END_UTC_MIN), rng.randint(0, 59))

    def workday(self, rng: random.Random, at: datetime) -> datetime:
        """``at`` moved into US working hours on the same UTC date, if it fell outside them."""
        minute = at.hour * 60 + at.minute
        if WORK_START_UTC_MIN <= minute <= WORK_END_UTC_MIN:
            return at
        return self.moment_on(rng, at.date())

    def days_before(self, when: datetime | date) -> float:
        if isinstance(when, datetime):
            return (self.now - when).total_seconds() / 86_400
        return float((self.as_of - when).days)

    def month(self, k: int) -> date:
        """The first day of the month ``k`` months before as_of's month (0 = the current month)."""
        return add_months(self.as_of.replace(day=1), -k)


def hubspot_ref(external_id: str) -> dict[str, str]:
    """A reference from another source's record to a HubSpot record (accounts, contacts, deals)."""
    return {"source": "hubspot", "external_id": external_id}


def midday(d: date) -> datetime:
    return datetime.combine(d, time(17, 0), tzinfo=UTC)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def pick_weighted(rng: random.Random, options: dict[str, float] | tuple, weights: tuple | None = None):  # noqa: ANN201
    if isinstance(options, dict):
        return rng.choices(list(options), weights=list(options.values()))[0]
    return rng.choices(options, weights=weights)[0]


def fmt_money(x: float) -> str:
    if x >= 1_000_000:
        return f"${x / 1_000_000:.1f}M"
    if x >= 10_000:
        return f"${round(x / 1_000):,}k"
    return f"${x:,.0f}"
