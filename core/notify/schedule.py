"""When a digest goes out: every N minutes, aligned on the day's opening, inside business hours (Monday to Friday,
``SOPHIA_BUSINESS_HOURS`` in ``SOPHIA_NOTIFY_TIMEZONE``); outside them, at the next opening. Wall-clock
arithmetic in the configured zone (``zoneinfo``), so a slot stays at 09:00 local across a DST change."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.config import Settings

__all__ = ["BusinessHours", "next_digest_slot"]

WORKDAYS = frozenset(range(5))  # Monday .. Friday


@dataclass(frozen=True)
class BusinessHours:
    tz: ZoneInfo
    open_minute: int  # minutes after local midnight
    close_minute: int  # may be 24 * 60
    days: frozenset[int] = WORKDAYS

    @classmethod
    def from_settings(cls, settings: Settings) -> BusinessHours:
        start, end = settings.business_hours.split("-")
        return cls(tz=ZoneInfo(settings.notify_timezone), open_minute=_minutes(start), close_minute=_minutes(end))

    def opening(self, day: date) -> datetime:
        """The day's opening as a naive local wall time."""
        return datetime.combine(day, datetime.min.time()) + timedelta(minutes=self.open_minute)

    def closing(self, day: date) -> datetime:
        return datetime.combine(day, datetime.min.time()) + timedelta(minutes=self.close_minute)

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz).replace(tzinfo=None)
        day = local.date()
        return day.weekday() in self.days and self.opening(day) <= local <= self.closing(day)

    def to_utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.tz).astimezone(UTC)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def next_digest_slot(now: datetime, *, every_minutes: int, hours: BusinessHours) -> datetime:
    """The first digest slot at or after ``now`` (aware, UTC returned): the day's opening plus a multiple of
    ``every_minutes``, no later than the closing, on a business day."""
    if every_minutes <= 0:
        raise ValueError("a digest interval is a positive number of minutes")
    local = now.astimezone(hours.tz).replace(tzinfo=None)
    step = timedelta(minutes=every_minutes)
    for ahead in range(8):  # a business day comes within a week
        day = local.date() + timedelta(days=ahead)
        if day.weekday() not in hours.days:
            continue
        opening, closing = hours.opening(day), hours.closing(day)
        if local <= opening:
            return hours.to_utc(opening)
        slot = opening + step * math.ceil((local - opening) / step)
        if slot <= closing:
            return hours.to_utc(slot)
    raise ValueError("no business day within a week")  # unreachable with Monday..Friday
