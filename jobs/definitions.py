"""The scheduled jobs. Each is a few lines over a core call; the scheduler refers to them by name."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from core.bus import make_bus, make_cache
from core.db.models import Meta
from core.observability.logging import bound, get_logger, new_id
from core.db.types import utcnow
from core.runtime import get_runtime

HEARTBEAT_KEY = "scheduler"
EVENT_RETENTION_S = 7 * 24 * 3600  # the bus is for live views and triggers, not an archive
BUS_STREAMS = ("records",)
log = get_logger("jobs")


def job(func: Callable[[], None]) -> Callable[[], None]:
    """Every log line a job run writes carries the job's name and a run id."""

    @functools.wraps(func)
    def run() -> None:
        with bound(job=func.__name__, job_id=new_id()):
            log.debug("job start")
            func()

    return run


@job
def heartbeat() -> None:
    """Record that the scheduler is alive (shown on the admin page; a stale one means it is down)."""
    rt = get_runtime()
    with rt.session() as session:
        row = session.get(Meta, HEARTBEAT_KEY) or Meta(key=HEARTBEAT_KEY, value={})
        row.value = {"heartbeat_at": utcnow().isoformat(), "pid": os.getpid()}
        session.merge(row)


@job
def housekeeping() -> None:
    """Drop expired cache entries and bus events older than the retention."""
    settings = get_runtime().settings
    cache, bus = make_cache(settings), make_bus(settings)
    try:
        purged = cache.purge_expired()
        trimmed = sum(bus.trim(stream, EVENT_RETENTION_S) for stream in BUS_STREAMS)
        log.info("housekeeping done", cache_purged=purged, events_trimmed=trimmed)
    finally:
        cache.close()
        bus.close()
