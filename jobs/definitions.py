"""The scheduled jobs. Each is a few lines over a core call; the scheduler refers to them by name."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from connectors.registry import KINDS
from core.bus import make_bus, make_cache
from core.jobs_health import record_heartbeat
from core.observability.logging import bound, get_logger, new_id
from core.pipelines import sync_connector
from core.pipelines.health import due_connectors
from core.runtime import get_runtime

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
def index_records() -> None:
    """Bring search documents and chunks up to date with the records (unchanged ones cost no embedding),
    then push the chunk changes to the vector backends."""
    from core.search.embeddings import make_embedder
    from core.search.indexing import index_records as run_index

    rt = get_runtime()
    result = run_index(runtime=rt, embedder=make_embedder(rt.settings))
    log.info("search index updated", **result.as_dict())
    sync_vector_indexes()
