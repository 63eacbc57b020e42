"""The scheduled jobs. Each is a few lines over a core call; the scheduler refers to them by name
(``core.scheduling.JOBS``).

Every run goes through ``job``: it is recorded in ``job_runs`` (``core.scheduling``), a paused job's scheduled
run is skipped, and in a scheduler process that lost its lease to another no job runs any more."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from connectors.registry import KINDS
from core.bus import make_bus, make_cache
from core.jobs_health import record_heartbeat
from core.leases import Lease
from core.observability.logging import bound, get_logger, new_id
from core.pipelines import sync_connector
from core.pipelines.health import due_connectors
from core.runtime import get_runtime
from core.scheduling import finish_run, job_paused, start_run

#: The index job (every 30 s) follows the records bus this long after its change-following run, so a synced
#: record is searchable within seconds; short enough that the job ends before its next start.
FOLLOW_BUS_S = 20.0
EVENT_RETENTION_S = 7 * 24 * 3600  # the bus is for live views and triggers, not an archive
BUS_STREAMS = ("records", "insights")
log = get_logger("jobs")
_BUS_POSITION: Any = None  # this process's place in the records stream (see index_records)
_LEASE: Lease | None = None  # the scheduler's lease, when this process is the active scheduler (renewed by heartbeat)
LEASE_LOST = threading.Event()  # set when another scheduler took the lease: no job runs here any more
_RUNNING: dict[str, threading.Lock] = {}  # one run of a job at a time in this process (scheduled or asked for)
_RUNNING_GUARD = threading.Lock()

JobResult = dict[str, Any] | None


def hold_lease(lease: Lease | None) -> None:
    """The scheduler process hands its lease here; the heartbeat renews it."""
    global _LEASE
    _LEASE = lease
    LEASE_LOST.clear()


def _job_lock(job_id: str) -> threading.Lock:
    with _RUNNING_GUARD:
        return _RUNNING.setdefault(job_id, threading.Lock())


def job(func: Callable[..., JobResult]) -> Callable[..., JobResult]:
    """Run a job: recorded in ``job_runs`` (start, end, status, its result dict or the error, the process),
    skipped when paused (a scheduled run only) or when this process is no longer the active scheduler. Every
    log line the run writes carries the job's name and a run id. ``trigger``: schedule, manual or event."""
    job_id = func.__name__

    @functools.wraps(func)
    def run(*, trigger: str = "schedule", **options: Any) -> JobResult:
        with bound(job=job_id, job_id=new_id()):
            if LEASE_LOST.is_set():
                log.warning("job skipped: another scheduler process is the active one")
                return None
            rt = get_runtime()
            if trigger == "schedule" and job_paused(runtime=rt, job_id=job_id):
                log.info("job paused; run skipped")
                return None
            with _job_lock(job_id):
                log.debug("job start", trigger=trigger)
                run_id = start_run(runtime=rt, job_id=job_id, trigger=trigger)
                try:
                    result = func(**options)
                except Exception as exc:
                    finish_run(runtime=rt, run_id=run_id, error=f"{type(exc).__name__}: {exc}")
                    raise
                finish_run(runtime=rt, run_id=run_id, result=result if isinstance(result, dict) else None)
                return result

    return run


@job
def heartbeat() -> None:
    """Record that the scheduler is alive in the meta row ``scheduler``, and renew its lease (the active
    scheduler's). Its age is in /readyz and /metrics (``sophia_scheduler_heartbeat_age_seconds``) and from
    ``core.jobs_health.scheduler_heartbeat``; the jobs process's watchdog exits when it stops getting through,
    or when the lease was lost to another process."""
    rt = get_runtime()
    from core.errors import Conflict

    with rt.session() as session:
        if _LEASE is not None:
            try:
                _LEASE.renew(session)
            except Conflict:
                LEASE_LOST.set()
                raise
        record_heartbeat(session=session, now=rt.clock.now(), pid=os.getpid())


@job
def housekeeping() -> dict[str, int]:
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
        counts = {"cache_purged": purged, "events_trimmed": trimmed, "chunk_changes_pruned": pruned}
        log.info("housekeeping done", **counts)
        return counts
    finally:
        cache.close()
        bus.close()


@job
def sync_due_connectors() -> dict[str, int]:
    """Sync every enabled connector whose interval has passed, one after another. A failing connector
    is recorded in its run and logged; it does not stop the others. When a sync succeeded and wrote or
    deleted records, insight detection runs right after (its own run, trigger "event")."""
    rt = get_runtime()
    with rt.session() as session:
        due = due_connectors(session=session)
    counts = {"due": len(due), "succeeded": 0, "failed": 0, "records_changed": 0}
    if not due:
        return counts
    bus = make_bus(rt.settings)
    try:
        for name in due:
            try:
                result = sync_connector(runtime=rt, kinds=KINDS, name=name, bus=bus)
                log.info("scheduled sync done", connector=name, status=result.status, error=result.error)
            except Exception as exc:  # a connector that cannot even start (bad config, lease held)
                log.warning("scheduled sync could not run", connector=name, error=str(exc)[:300])
                counts["failed"] += 1
                continue
            counts["failed" if result.status == "failed" else "succeeded"] += 1
            if result.status == "succeeded":
                counts["records_changed"] += sum(r.tally.written + r.tally.deleted for r in result.runs)
    finally:
        bus.close()
    if counts["records_changed"]:
        try:
            detect_insights(trigger="event")
        except Exception as exc:  # noqa: BLE001 - recorded in its own run; the syncs are done
            log.warning("detection after sync failed", error=str(exc)[:300])
    return counts


@job
def detect_insights() -> dict[str, Any]:
    """Run insight detection and announce the insights it opened on the bus stream ``insights``."""
    from core.insights import run_detection
    from core.insights.events import announce_detection

    rt = get_runtime()
    result = run_detection(runtime=rt)
    for type_, error in result.errors.items():
        log.warning("insight detector failed", type=type_, error=error)
    bus = make_bus(rt.settings)
    try:
        announce_detection(bus=bus, result=result)
    finally:
        bus.close()
    return {**result.counts(), "errors": len(result.errors)}


@job
def deliver_insights() -> dict[str, Any]:
    """Post the insights and digests that are due to Slack (``core.notify.deliver_due``)."""
    from core.notify import deliver_due

    report = deliver_due(runtime=get_runtime())
    for error in report.counts().get("errors", []):
        log.warning("insight delivery problem", error=error)
    return report.counts()


@job
def retention() -> dict[str, int]:
    """Delete job runs and long-resolved insights past their keep (SOPHIA_JOB_RUNS_KEEP_DAYS, _INSIGHTS_KEEP_DAYS)."""
    from core.retention import apply_retention

    return apply_retention(runtime=get_runtime())


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
