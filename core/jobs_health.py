"""The scheduler's heartbeat: the jobs process records it in the ``meta`` row ``scheduler`` every
``SOPHIA_HEARTBEAT_INTERVAL_S``; readiness (``/readyz``), ``/metrics`` and the Admin page read its age.
A heartbeat older than ``SOPHIA_HEARTBEAT_STALE_S`` means the scheduler is down or stuck."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from core.db.models import Meta
from core.runtime import Runtime

HEARTBEAT_KEY = "scheduler"  # the meta row's key

HeartbeatState = Literal["never", "fresh", "stale"]


@dataclass(frozen=True)
class Heartbeat:
    """The last heartbeat: when, from which process, how old, and whether that is too old."""

    at: datetime | None
    pid: int | None
    age_s: float | None
    stale_after_s: float

    @property
    def state(self) -> HeartbeatState:
        if self.age_s is None:
            return "never"
        return "stale" if self.age_s > self.stale_after_s else "fresh"

    def describe(self) -> str:
        """One line for people: ``last heartbeat 12 s ago`` (and what that means when it is too old)."""
        if self.age_s is None:
            return "the scheduler has not recorded a heartbeat"
        said = f"last heartbeat {self.age_s:.0f} s ago"
        return said if self.state == "fresh" else f"{said} (over {self.stale_after_s:.0f} s: the scheduler is down)"


def record_heartbeat(*, session: Session, now: datetime, pid: int) -> None:
    """Note that the scheduler is alive now."""
    row = session.get(Meta, HEARTBEAT_KEY) or Meta(key=HEARTBEAT_KEY, value={})
    row.value = {"heartbeat_at": now.isoformat(), "pid": pid}
    session.merge(row)


def read_heartbeat(*, session: Session, now: datetime, stale_after_s: float) -> Heartbeat:
    """The last heartbeat recorded, and its age at ``now``."""
    row = session.get(Meta, HEARTBEAT_KEY)
    value = row.value if row is not None else {}
    at = _parse(value.get("heartbeat_at"))
    age = None if at is None else max(0.0, (now - at).total_seconds())
    pid = value.get("pid")
    return Heartbeat(at=at, pid=pid if isinstance(pid, int) else None, age_s=age, stale_after_s=stale_after_s)


def scheduler_heartbeat(*, runtime: Runtime) -> Heartbeat:
    """The heartbeat by the runtime's settings and clock (what the Admin page and the probes show)."""
    with runtime.session() as session:
        return read_heartbeat(
            session=session, now=runtime.clock.now(), stale_after_s=runtime.settings.heartbeat_stale_s
        )


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


class HeartbeatCollector:
    """``sophia_scheduler_heartbeat_age_seconds`` (absent until a heartbeat is recorded), read from the database
    when scraped, so the API's /metrics shows the scheduler process. Alert when it passes the stale limit."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        age = GaugeMetricFamily(
            "sophia_scheduler_heartbeat_age_seconds", "Seconds since the scheduler last recorded its heartbeat"
        )
        limit = GaugeMetricFamily(
            "sophia_scheduler_heartbeat_stale_after_seconds", "Heartbeat age past which the scheduler counts as down"
        )
        beat = scheduler_heartbeat(runtime=self.runtime)
        if beat.age_s is not None:
            age.add_metric([], beat.age_s)
        limit.add_metric([], beat.stale_after_s)
        yield age
        yield limit
