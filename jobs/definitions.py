"""The scheduled jobs. Each is a few lines over a core call; the scheduler refers to them by name."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

from connectors.registry import KINDS
from core.bus import make_bus, make_cache
from core.jobs_health import record_heartbeat
from core.observability.logging import bound, get_logger, new_id
from core.pipelines import sync_connector
from core.pipelines.health import due_connectors
from core.runtime import get_runtime

#: The index job (every 30 s) follows the records bus this long after its change-following run, so a synced
#: record is searchable within seconds; short enough that the job ends before its next start.
FOLLOW_BUS_S = 20.0
EVENT_RETENTION_S = 7 * 24 * 3600  # the bus is for live views and triggers, not an archive
BUS_STREAMS = ("records",)
log = get_logger("jobs")
_BUS_POSITION: Any = None  # this process's place in the records stream (see index_records)


def job(func: Callable[..., None]) -> Callable[..., None]:
    """Every log line a job run writes carries the job's name and a run id."""

    @functools.wraps(func)
    def run(**options: Any) -> None:
        with bound(job=func.__name__, job_id=new_id()):
            log.debug("job start")
            func(**options)

    return run


@job
def heartbeat() -> None:
    """Record that the scheduler is alive in the meta row ``scheduler``. Its age is in /readyz and /metrics
    (``sophia_scheduler_heartbeat_age_seconds``) and from ``core.jobs_health.scheduler_heartbeat``; the
    jobs process's watchdog exits when it stops getting through."""
    rt = get_runtime()
    with rt.session() as session:
        record_heartbeat(session=session, now=rt.clock.now(), pid=os.getpid())


@job
def housekeeping() -> None:
    """Drop expired cache entries, bus events older than the retention, and the chunk changes every enabled
    vector backend has consumed."""
    from core.search.sync import prune_changes

    rt = get_runtime()
    settings = rt.settings
    cache, bus = make_cache(settings), make_bus(settings)
    try:
        purged = cache.purge_expired()
        trimmed = sum(bus.trim(stream, EVENT_RETENTION_S) for stream in BUS_STREAMS)
        pruned = prune_changes(runtime=rt, enabled=settings.vector_backend_names)
        log.info("housekeeping done", cache_purged=purged, events_trimmed=trimmed, chunk_changes_pruned=pruned)
    finally:
        cache.close()
        bus.close()


@job
def sync_due_connectors() -> None:
    """Sync every enabled connector whose interval has passed, one after another. A failing connector
    is recorded in its run and logged; it does not stop the others."""
    rt = get_runtime()
    with rt.session() as session:
        due = due_connectors(session=session)
    if not due:
        return
    bus = make_bus(rt.settings)
    try:
        for name in due:
            try:
                result = sync_connector(runtime=rt, kinds=KINDS, name=name, bus=bus)
                log.info("scheduled sync done", connector=name, status=result.status, error=result.error)
            except Exception as exc:  # a connector that cannot even start (bad config, lease held)
                log.warning("scheduled sync could not run", connector=name, error=str(exc)[:300])
    finally:
        bus.close()


@job
def sync_vector_indexes() -> None:
    """Push chunk changes to every enabled vector backend. One that is down records its error (shown by
    `sophia index status`) and catches up on a later run; ingestion never waits for it."""
    from core.search.sync import sync_enabled

    for report in sync_enabled(runtime=get_runtime()):
        if report.error:
            log.warning("vector index behind", backend=report.backend, pending=report.pending, error=report.error)
        elif report.upserted or report.deleted:
            log.info(
                "vector index synced",
                backend=report.backend,
                upserted=report.upserted,
                deleted=report.deleted,
                pending=report.pending,
            )


@job
def index_records(follow_s: float = FOLLOW_BUS_S) -> None:
    """Make the records that changed since the last run searchable (documents, chunks, vectors, backends),
    then, for the rest of the job's slot, those the bus announces as soon as they are."""
    from core.search.searchable import index_announced, make_searchable

    rt = get_runtime()
    _log_searchable(make_searchable(runtime=rt))  # the watermark: nothing is missed by it
    deadline = time.monotonic() + follow_s
    bus = make_bus(rt.settings)
    try:
        while (left := deadline - time.monotonic()) > 0:
            done = index_announced(runtime=rt, bus=bus, position=_bus_position(), block_s=min(5.0, left))
            if done is not None:
                _log_searchable(done)
    except Exception as exc:  # noqa: BLE001 - a bus that is down only makes indexing wait for the next run
        log.warning("records bus not followed", error=type(exc).__name__)
    finally:
        bus.close()


@job
def reindex_full() -> None:
    """Once a day, the full run: every record's document rebuilt and compared, deletes the change-following
    run cannot see (a Slack reply, a payment) included."""
    from core.search.searchable import full_run_due, make_searchable

    rt = get_runtime()
    if full_run_due(runtime=rt):
        _log_searchable(make_searchable(runtime=rt, full=True))


def _bus_position() -> Any:
    global _BUS_POSITION
    if _BUS_POSITION is None:
        from core.search.searchable import BusPosition

        _BUS_POSITION = BusPosition()
    return _BUS_POSITION


def _log_searchable(done: Any) -> None:
    if done.index is not None and (done.index.documents_seen or done.index.documents_deleted):
        log.info("search index updated", **done.index.as_dict())
    for report in done.behind:
        log.warning("vector index behind", backend=report.backend, pending=report.pending, error=report.error)
